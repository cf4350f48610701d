"""A proposal's staged actions: their states, the moves between them, and the operator's remedies for one that
did not finish (Send again, Mark as sent, Run the rest). The proposal (orchestrator/model.py) moves them and
records the ledger events; this module knows nothing of proposals."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from orchestrator import events as ev
from orchestrator.errors import InvalidTransition


class ActionStatus(StrEnum):
    STAGED = "staged"
    APPLYING = "applying"
    APPLIED = "applied"
    FAILED = "failed"
    UNCERTAIN = "uncertain"
    """Handed to the outside world, then Deputy lost track: it may not have been sent. The operator decides."""
    NOT_RUN = "not_run"
    """An earlier action of the proposal failed, so this one was never tried."""


_A = ActionStatus
ACTION_MOVES: dict[ActionStatus, frozenset[ActionStatus]] = {
    _A.STAGED: frozenset({_A.APPLYING, _A.FAILED}),
    _A.APPLYING: frozenset({_A.APPLIED, _A.FAILED, _A.UNCERTAIN, _A.NOT_RUN}),
    _A.UNCERTAIN: frozenset({_A.APPLYING, _A.APPLIED}),
    _A.FAILED: frozenset({_A.APPLYING}),
    _A.NOT_RUN: frozenset({_A.APPLYING}),
    _A.APPLIED: frozenset(),
}
MOVED: dict[ActionStatus, type[ev.Event]] = {
    _A.APPLYING: ev.ActionApplying,
    _A.APPLIED: ev.ActionApplied,
    _A.FAILED: ev.ActionFailed,
    _A.UNCERTAIN: ev.ActionUncertain,
    _A.NOT_RUN: ev.ActionNotRun,
}
"""The ledger event of each move the apply path makes."""


class Remedy(StrEnum):
    """The operator's word on an action that did not finish."""

    SEND_AGAIN = "send_again"
    MARK_SENT = "mark_sent"
    RUN_AGAIN = "run_again"


@dataclass(frozen=True)
class RemedyRule:
    moves_from: frozenset[ActionStatus]
    to: ActionStatus
    event: type[ev.Event]
    said: str
    """What it did, for the ledger and for a second press: "marked as sent"."""
    new_attempt: frozenset[ActionStatus] = frozenset()
    """From these states the action gets a fresh idempotency record: the last attempt's says what happened."""


REMEDIES: dict[Remedy, RemedyRule] = {
    Remedy.SEND_AGAIN: RemedyRule(
        frozenset({_A.UNCERTAIN}), _A.APPLYING, ev.ActionResendApproved, "sent again", frozenset({_A.UNCERTAIN})
    ),
    Remedy.MARK_SENT: RemedyRule(frozenset({_A.UNCERTAIN}), _A.APPLIED, ev.ActionMarkedSent, "marked as sent"),
    Remedy.RUN_AGAIN: RemedyRule(
        frozenset({_A.FAILED, _A.NOT_RUN, _A.APPLYING}),
        _A.APPLYING,
        ev.ActionRetryApproved,
        "run again",
        frozenset({_A.FAILED}),
    ),
}
"""An action left `applying` under a failed task (its job ran out of retries) is run again as it is."""


@dataclass
class StagedAction:
    """One side effect waiting for approval; `fields` are validated by its connector before staging."""

    kind: str
    fields: dict[str, Any]
    summary: str
    target: str
    status: ActionStatus = ActionStatus.STAGED
    outcome: str = ""
    attempt: int = 1
    """Bumped when the operator asks for a new attempt (Send again, or Run the rest after a failure): each
    attempt has its own idempotency record, while the connector keeps the same key (`proposal:index`)."""
    word: str = ""
    """The operator's last word on it, in words ("marked as sent by @sam at 09:20"), for a second press."""
    subject: str = ""
    body: str = ""
    """The draft its card quotes (an email's subject and body), as its connector's preview gave them: the card
    reads these, never a kind's fields."""
    grant: str = ""
    """What Always allow would allow for good (its connector's preview says; '' for none)."""

    def move(self, new: ActionStatus, name: str) -> None:
        if new not in ACTION_MOVES[self.status]:
            raise InvalidTransition(f"action {name} cannot go from {self.status.value} to {new.value}")
        self.status = new

    def hear(self, rule: RemedyRule, who: str, at: datetime, name: str) -> str:
        """Take the operator's remedy (a new attempt where the last one's record says what happened); the
        words for the ledger, e.g. "marked as sent by @sam"."""
        if self.status not in rule.moves_from:
            raise InvalidTransition(f"action {name} is {self.status.value}; it can't be {rule.said}")
        if self.status in rule.new_attempt:
            self.attempt += 1
        if self.status is not rule.to:
            self.move(rule.to, name)
        said = f"{rule.said} by {who}"
        self.word = f"{said} at {at:%H:%M}"
        if rule.to is ActionStatus.APPLIED:
            self.outcome = f"{self.summary} — {said}"
        return said

    def record_key(self, key: str) -> str:
        """The idempotency record of this attempt: the key itself for the first, `key#n` for later ones."""
        return key if self.attempt <= 1 else f"{key}#{self.attempt}"
