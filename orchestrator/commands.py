"""Commands: imperative requests to the coordinator, plain frozen dataclasses routed by type."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from orchestrator.model import Actor, ChatRef, Draft, Verdict


@dataclass(frozen=True, kw_only=True)
class SubmitTask:
    text: str
    actor: Actor
    chat: ChatRef
    event_id: str


@dataclass(frozen=True)
class StartTask:
    task_id: str


@dataclass(frozen=True)
class CompleteDraft:
    """An agent finished drafting: stage its proposal, or send its reply."""

    task_id: str
    draft: Draft


@dataclass(frozen=True, kw_only=True)
class PauseTask:
    """The next model call would pass today's budget: park the task and ask the operator to raise it."""

    task_id: str
    spent_usd: float
    cap_usd: float
    date: str


@dataclass(frozen=True)
class FailTask:
    task_id: str
    reason: str


@dataclass(frozen=True, kw_only=True)
class DecideProposal:
    proposal_id: str
    actor: Actor
    verdict: Verdict
    chat: ChatRef
    version: int | None = None
    reason: str = ""
    event_id: str = ""
    ack: Callable[[str], Awaitable[None]] | None = field(default=None, compare=False, repr=False)
    """Called with a short confirmation right after the decision commits, before the card is redrawn: a
    button press on Telegram wants its answer first."""


@dataclass(frozen=True)
class ApplyProposal:
    proposal_id: str


@dataclass(frozen=True, kw_only=True)
class UndoProposal:
    proposal_id: str
    actor: Actor
    chat: ChatRef
    event_id: str = ""


@dataclass(frozen=True, kw_only=True)
class EditProposal:
    """Replace fields of one staged action; the proposal gets a new version and is validated again."""

    proposal_id: str
    actor: Actor
    chat: ChatRef
    changes: dict[str, Any]
    index: int = 0
    event_id: str = ""


@dataclass(frozen=True)
class RemindDue:
    """The scheduler found a pending proposal due for a reminder or its expiry; re-checked on fresh state."""

    proposal_id: str


@dataclass(frozen=True, kw_only=True)
class SnoozeProposal:
    proposal_id: str
    actor: Actor
    chat: ChatRef
    until: str  # "1h" or "tomorrow"
    event_id: str = ""


Command = (
    SubmitTask
    | StartTask
    | CompleteDraft
    | FailTask
    | PauseTask
    | DecideProposal
    | ApplyProposal
    | UndoProposal
    | EditProposal
    | RemindDue
    | SnoozeProposal
)
