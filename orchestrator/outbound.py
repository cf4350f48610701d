"""What the core says to a chat. Channels render these; the core never formats for a platform."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from orchestrator.model import Proposal


class Kind(StrEnum):
    PROGRESS = "progress"
    CARD = "card"
    OUTCOME = "outcome"
    NOTICE = "notice"
    ERROR = "error"
    REMINDER = "reminder"
    DIGEST = "digest"


@dataclass(frozen=True, kw_only=True)
class Outbound:
    """One message. `reply_to` names the inbound event it answers; `final` says no more is coming for it,
    which is how the piped console knows when it may exit."""

    kind: Kind
    text: str
    proposal: Proposal | None = None
    task_id: str | None = None
    reply_to: str | None = None
    final: bool = False
    proposals: tuple[Proposal, ...] = ()
    """A digest's pending proposals, each shown with its own buttons."""
    ref: str = ""
    """A digest's id, for its Approve-all-low-risk button."""


def money(usd: float) -> str:
    """Dollars as an operator reads them: cents where they matter, four places for a model call's fractions."""
    if usd == 0:
        return "$0.00"
    if usd < 0.0001:
        return f"${usd:.6f}"
    return f"${usd:.2f}" if usd >= 1 else f"${usd:.4f}"
