"""One line of `deputy doctor`: what was checked, whether it is fine, and what to do if not. Declared in the core
(orchestrator/kinds.py) so connectors contribute their own lines without importing the bot."""

from __future__ import annotations

from orchestrator.kinds import Check

__all__ = ["Check"]
