"""What an agent hands the core: a proposal draft to stage, or a reply. Untrusted until staged."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class ProposalDraft:
    """What an agent hands back for staging: untrusted until each action passes its connector's validation."""

    playbook: str
    summary: str
    actions: list[tuple[str, dict[str, Any]]]
    risk: str = "low"
    cost_estimate_usd: float = 0.0
    cost_spent_usd: float = 0.0
    always_ask: bool = False
    """The playbook says a person decides, whatever the policy file's auto-approval rules match."""
    flagged: bool = False
    """The verifier doubted the draft."""
    revised: str = ""
    """The operator's feedback this draft revises an earlier proposal with (Revise with this instead)."""
    offers: dict[str, tuple[str, dict[str, Any]]] = field(default_factory=dict)
    """Actions the card offers behind buttons of their own, by the button's name (`Proposal.offers`); a draft
    with offers may stage no action itself (a card that shows an email)."""


@dataclass(frozen=True)
class Reply:
    """An agent's answer that needs no action (a memory answer, a refusal, a clarifying question)."""

    text: str
    ok: bool = True
    cost_usd: float = 0.0


Draft = ProposalDraft | Reply
