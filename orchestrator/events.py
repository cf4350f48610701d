"""Ledger events: past-tense, immutable facts. Each names the new status it leads to, so state can be
rebuilt from the ledger by a plain fold (`orchestrator.replay`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum
from typing import Any


@dataclass(frozen=True, kw_only=True)
class Event:
    at: datetime
    task_id: str
    proposal_id: str | None = None
    actor: str | None = None
    cost_usd: float = 0.0
    summary: str = ""
    task_status: str | None = None
    proposal_status: str | None = None
    action_index: int | None = None
    action_status: str | None = None
    detail: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        """Statuses are stored as plain strings, so an Enum member passed in is reduced to its value."""
        for name in ("task_status", "proposal_status", "action_status"):
            value = getattr(self, name)
            if isinstance(value, Enum):
                object.__setattr__(self, name, value.value)

    @property
    def type(self) -> str:
        return type(self).__name__


class TaskSubmitted(Event):
    pass


class TaskStarted(Event):
    pass


class TaskReplied(Event):
    pass


class TaskFailed(Event):
    pass


class TaskPaused(Event):
    pass


class ModelCalled(Event):
    """One model call (or cache hit): model, tier, step, tokens and dollars in `detail`; `cost_usd` is what it
    cost. It names no status, so the replay fold passes over it."""


class TaskApplying(Event):
    pass


class TaskDone(Event):
    pass


class TaskAwaitingOperator(Event):
    """An action may not have been sent: the task waits for the operator's Send again or Mark as sent."""


class ProposalStaged(Event):
    pass


class ProposalApproved(Event):
    pass


class ProposalRejected(Event):
    pass


class ProposalUndone(Event):
    pass


class ProposalEdited(Event):
    pass


class ProposalRevised(Event):
    """A new version drafted again by the agent with the operator's feedback (in the summary and `detail`)."""


class ProposalReminded(Event):
    pass


class ProposalSnoozed(Event):
    pass


class ProposalExpired(Event):
    pass


class ActionApplying(Event):
    pass


class ActionApplied(Event):
    pass


class ActionFailed(Event):
    pass


class ActionUncertain(Event):
    """The action was handed over, then Deputy lost track (a crash, a dropped connection): it may not have
    happened, and it is not retried without the operator's word."""


class ActionNotRun(Event):
    """An earlier action of the proposal failed, so this one was not tried."""


class ActionResendApproved(Event):
    """The operator's word: send an action that may not have been sent again (a new attempt, the same key)."""


class ActionMarkedSent(Event):
    """The operator's word: an action that may not have been sent did arrive; it counts as applied."""


class ActionRetryApproved(Event):
    """The operator's word (Run the rest): a failed or not-run action goes back to be applied once more."""


class LaterFired(Event):
    """A request scheduled for later ran: as a new task (`detail.task`), or said as a reminder; `detail.late_s` says
    how late (Deputy was down at the time)."""


class LaterCancelled(Event):
    """The operator stopped a request scheduled for later before it ran."""


class RecordCreated(Event):
    """A client or project record was created: `detail` has `record`, `kind` and its `changes` (field, new)."""


class RecordChanged(Event):
    """Fields of a record changed (a typed edit, an approved action, an import line): `detail` as above."""


class RecordMerged(Event):
    """`/merge`: `detail` `record` absorbed `other` (whose id is gone)."""


class RecordForgotten(Event):
    """`/forget client`: the record is gone; the event names only its id (redacted)."""


class GrantCreated(Event):
    """**Always allow** on a tool's card: `detail` names the grant, the tool and the fingerprint it was allowed
    at. Grant events name no status, so the replay fold passes over them."""


class GrantRevoked(Event):
    """`/grants revoke <id>` (or a new grant for the same tool): its calls need a tap again."""


class GrantSuspended(Event):
    """The granted tool's description or input schema changed: its calls need a tap until allowed again."""


class EmailReceived(Event):
    """An email came into the inbox and was triaged (once): `detail` has `triage`, `from`, `subject`, `folder`,
    `flags`; `task_id` is the task its reply is drafted in (reserved for every email, used by "needs reply")."""


EVENT_TYPES: dict[str, type[Event]] = {
    cls.__name__: cls
    for cls in (
        TaskSubmitted,
        TaskStarted,
        TaskReplied,
        TaskFailed,
        TaskPaused,
        ModelCalled,
        TaskApplying,
        TaskDone,
        TaskAwaitingOperator,
        ProposalStaged,
        ProposalApproved,
        ProposalRejected,
        ProposalUndone,
        ProposalEdited,
        ProposalRevised,
        ProposalReminded,
        ProposalSnoozed,
        ProposalExpired,
        ActionApplying,
        ActionApplied,
        ActionFailed,
        ActionUncertain,
        ActionNotRun,
        ActionResendApproved,
        ActionMarkedSent,
        ActionRetryApproved,
        LaterFired,
        LaterCancelled,
        RecordCreated,
        RecordChanged,
        RecordMerged,
        RecordForgotten,
        GrantCreated,
        GrantRevoked,
        GrantSuspended,
        EmailReceived,
    )
}
