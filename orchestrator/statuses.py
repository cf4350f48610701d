"""The states of tasks and proposals, as `str` enums, and the moves between them: anything else raises
`InvalidTransition`. Stored records and ledger events carry these values, so they never change."""

from __future__ import annotations

from enum import Enum, StrEnum
from typing import Any

from orchestrator.errors import InvalidTransition
from orchestrator.text import one_line

SUMMARY_CHARS = 200
"""A ledger event's summary, at most."""


class TaskStatus(StrEnum):
    RECEIVED = "received"
    RUNNING = "running"
    PAUSED = "paused"
    PROPOSED = "proposed"
    APPROVED = "approved"
    REJECTED = "rejected"
    EXPIRED = "expired"
    APPLYING = "applying"
    AWAITING_OPERATOR = "awaiting_operator"
    """An action may not have been sent; nothing more happens until the operator says Send again or Mark as sent."""
    DONE = "done"
    FAILED = "failed"
    UNDONE = "undone"


class ProposalStatus(StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"
    EXPIRED = "expired"
    UNDONE = "undone"


_T = TaskStatus
TASK_MOVES: dict[TaskStatus, frozenset[TaskStatus]] = {
    _T.RECEIVED: frozenset({_T.RUNNING, _T.FAILED}),
    _T.RUNNING: frozenset({_T.RUNNING, _T.PAUSED, _T.PROPOSED, _T.DONE, _T.FAILED}),
    _T.PAUSED: frozenset({_T.RUNNING, _T.FAILED}),
    _T.PROPOSED: frozenset({_T.APPROVED, _T.REJECTED, _T.EXPIRED, _T.FAILED}),
    _T.APPROVED: frozenset({_T.APPLYING, _T.FAILED, _T.UNDONE}),
    _T.APPLYING: frozenset({_T.APPLYING, _T.DONE, _T.FAILED, _T.AWAITING_OPERATOR}),
    _T.AWAITING_OPERATOR: frozenset({_T.APPLYING, _T.DONE}),
    _T.REJECTED: frozenset(),
    _T.EXPIRED: frozenset(),
    _T.DONE: frozenset(),
    _T.FAILED: frozenset({_T.APPLYING}),  # Run the rest
    _T.UNDONE: frozenset(),
}
TASK_TERMINAL = frozenset({_T.REJECTED, _T.EXPIRED, _T.DONE, _T.FAILED, _T.UNDONE})
"""Finished: nothing more happens by itself (the operator may still run the rest of a failed one)."""
TASK_TO_SHOW = frozenset({_T.PROPOSED, _T.DONE, _T.FAILED, _T.AWAITING_OPERATOR})
"""States the operator must see: a commit into one marks the task unshown until its message is in the chat (the
store's unshown set; the show pass posts what a crash left unposted). Any other state is never unshown."""

_P = ProposalStatus
PROPOSAL_MOVES: dict[ProposalStatus, frozenset[ProposalStatus]] = {
    _P.PENDING: frozenset({_P.APPROVED, _P.REJECTED, _P.EXPIRED}),
    _P.APPROVED: frozenset({_P.UNDONE}),
    _P.REJECTED: frozenset(),
    _P.EXPIRED: frozenset(),
    _P.UNDONE: frozenset(),
}


def check(what: str, moves: dict[Any, frozenset[Any]], current: Enum, new: Enum) -> None:
    if new not in moves[current]:
        raise InvalidTransition(f"{what} cannot go from {current.value} to {new.value}")


def clip(text: str) -> str:
    """A ledger event's summary: one line of at most SUMMARY_CHARS."""
    return one_line(text, SUMMARY_CHARS)
