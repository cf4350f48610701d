"""Policies: pure functions that decide who may do what. No I/O, so they are trivially testable."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from orchestrator.errors import BadRequest, PolicyDenied
from orchestrator.model import Actor, StagedAction

MAX_REQUEST_CHARS = 8000
CONSOLE = "console"


def check_request_text(text: str) -> str:
    """The request as the agent will see it, or `BadRequest` saying what to change."""
    text = text.strip()
    if not text:
        raise BadRequest("That message is empty. Tell me what to do, e.g. 'email jane@acme.com about invoice 42'.")
    if len(text) > MAX_REQUEST_CHARS:
        raise BadRequest(
            f"That message is {len(text):,} characters; the limit is {MAX_REQUEST_CHARS:,}. "
            "Shorten it or put the long part in a file and describe it."
        )
    return text


def is_operator(actor: Actor, operators: frozenset[str]) -> bool:
    """The console user is the person at the machine, so always an operator."""
    return actor.platform == CONSOLE or actor.id in operators


def require_operator(actor: Actor, operators: frozenset[str], doing: str) -> None:
    if not is_operator(actor, operators):
        raise PolicyDenied(
            f"You can't {doing}: you are not an operator. Your id is {actor.id}; the operator can add it to "
            f"DEPUTY_OPERATORS (e.g. DEPUTY_OPERATORS={actor.id}) and restart Deputy."
        )


def auto_approval_rule(actions: Sequence[StagedAction], rules: Mapping[str, str]) -> str | None:
    """The rule that approves every action without asking, or None: auto-approval needs a rule for each kind."""
    names = [rules.get(a.kind) for a in actions]
    if not names or any(n is None for n in names):
        return None
    return ", ".join(sorted({n for n in names if n}))
