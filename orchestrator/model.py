"""The domain model: tasks, proposals and their staged actions, with state machines that refuse illegal moves.

Entities are mutable dataclasses carrying a storage revision (`rev`) for optimistic concurrency; every
state change goes through a method that checks the transition and returns the ledger event describing it.
The model records events; it never calls out.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum, StrEnum
from typing import Any

from orchestrator import events as ev
from orchestrator.actions import MOVED, REMEDIES, Remedy
from orchestrator.actions import ActionStatus as ActionStatus
from orchestrator.actions import StagedAction as StagedAction
from orchestrator.actors import Actor as Actor
from orchestrator.actors import ChatRef as ChatRef
from orchestrator.actors import Decision as Decision
from orchestrator.actors import MemoryAsk as MemoryAsk
from orchestrator.actors import Revising as Revising
from orchestrator.actors import Verdict as Verdict
from orchestrator.drafts import Draft as Draft
from orchestrator.drafts import ProposalDraft as ProposalDraft
from orchestrator.drafts import Reply as Reply
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

_P = ProposalStatus
PROPOSAL_MOVES: dict[ProposalStatus, frozenset[ProposalStatus]] = {
    _P.PENDING: frozenset({_P.APPROVED, _P.REJECTED, _P.EXPIRED}),
    _P.APPROVED: frozenset({_P.UNDONE}),
    _P.REJECTED: frozenset(),
    _P.EXPIRED: frozenset(),
    _P.UNDONE: frozenset(),
}


def _check(what: str, moves: dict[Any, frozenset[Any]], current: Enum, new: Enum) -> None:
    if new not in moves[current]:
        raise InvalidTransition(f"{what} cannot go from {current.value} to {new.value}")


@dataclass
class Task:
    id: str
    text: str
    actor: Actor
    chat: ChatRef
    event_id: str
    created_at: datetime
    status: TaskStatus = TaskStatus.RECEIVED
    playbook: str = ""
    proposal_id: str | None = None
    reply: str = ""
    error: str = ""
    message_ref: str | None = None
    cost_usd: float = 0.0
    rev: int = 0
    memory: MemoryAsk | None = None
    """A memory word's request: answered from memory, not drafted."""

    def _move(self, new: TaskStatus) -> None:
        _check(f"task {self.id}", TASK_MOVES, self.status, new)
        self.status = new

    def submitted(self, at: datetime) -> ev.Event:
        return ev.TaskSubmitted(
            at=at,
            task_id=self.id,
            actor=self.actor.id,
            summary=_clip(self.text),
            task_status=self.status,
            detail={"platform": self.chat.platform},
        )

    def start(self, at: datetime) -> ev.Event:
        self._move(TaskStatus.RUNNING)
        return ev.TaskStarted(at=at, task_id=self.id, task_status=self.status)

    def pause(self, reason: str, at: datetime) -> ev.Event:
        """Waiting for the operator (today's model budget is used up); `StartTask` resumes it."""
        self._move(TaskStatus.PAUSED)
        return ev.TaskPaused(at=at, task_id=self.id, summary=_clip(reason), task_status=self.status)

    def spent(self, usd: float) -> None:
        """Model spend so far, summed from the calls the agents recorded in the ledger."""
        self.cost_usd = round(self.cost_usd + usd, 8)

    def propose(self, proposal: Proposal, at: datetime) -> ev.Event:
        self._move(TaskStatus.PROPOSED)
        self.proposal_id = proposal.id
        self.playbook = proposal.playbook
        return proposal.staged(at)

    def answer(self, text: str, at: datetime, *, cost_usd: float = 0.0) -> ev.Event:
        self._move(TaskStatus.DONE)
        self.reply = text
        self.cost_usd += cost_usd
        return ev.TaskReplied(at=at, task_id=self.id, summary=_clip(text), task_status=self.status, cost_usd=cost_usd)

    def fail(self, reason: str, at: datetime) -> ev.Event:
        self._move(TaskStatus.FAILED)
        self.error = reason
        return ev.TaskFailed(
            at=at, task_id=self.id, proposal_id=self.proposal_id, summary=_clip(reason), task_status=self.status
        )

    def decided(self, verdict: Verdict) -> None:
        """The proposal's decision moves the task; the proposal's event records it."""
        self._move(TaskStatus.APPROVED if verdict is Verdict.APPROVE else TaskStatus.REJECTED)

    def undone(self) -> None:
        """The proposal's undo moves the task; the proposal's event records it."""
        self._move(TaskStatus.UNDONE)

    def expired(self) -> None:
        """The proposal's expiry moves the task; the proposal's event records it."""
        self._move(TaskStatus.EXPIRED)

    def applying(self, at: datetime) -> ev.Event | None:
        if self.status is TaskStatus.APPLYING:
            return None
        self._move(TaskStatus.APPLYING)
        return ev.TaskApplying(at=at, task_id=self.id, proposal_id=self.proposal_id, task_status=self.status)

    def await_operator(self, reason: str, at: datetime) -> ev.Event:
        self._move(TaskStatus.AWAITING_OPERATOR)
        return ev.TaskAwaitingOperator(
            at=at, task_id=self.id, proposal_id=self.proposal_id, summary=_clip(reason), task_status=self.status
        )

    def finish(self, at: datetime, summary: str) -> ev.Event:
        self._move(TaskStatus.DONE)
        return ev.TaskDone(
            at=at, task_id=self.id, proposal_id=self.proposal_id, summary=_clip(summary), task_status=self.status
        )


@dataclass
class Proposal:
    id: str
    task_id: str
    chat: ChatRef
    playbook: str
    summary: str
    actions: list[StagedAction]
    created_at: datetime
    risk: str = "low"
    version: int = 1
    cost_estimate_usd: float = 0.0
    cost_spent_usd: float = 0.0
    blocked_reason: str = ""
    status: ProposalStatus = ProposalStatus.PENDING
    decision: Decision | None = None
    hold_until: datetime | None = None
    remind_at: datetime | None = None
    expires_at: datetime | None = None
    reminders: int = 0
    answer_to: str = ""
    """The event the next outcome answers: the operator's last word on it (Send again, Mark as sent, Run the
    rest), else the decision's."""
    flagged: bool = False
    """The verifier doubted the draft (its doubt is in the summary)."""
    drafted: list[StagedAction] = field(default_factory=list)
    """The actions as the agent first drafted them, whatever /edit changed since: what shadow runs compare."""
    revising: Revising | None = None
    revised: str = ""
    """The feedback of the revision that made this version ("v2 · revised: “shorter”" on the card)."""
    revised_as: str = ""
    """A rejected proposal revised into a new one (Revise with this instead): that one's id."""
    rev: int = 0

    def staged(self, at: datetime) -> ev.Event:
        return ev.ProposalStaged(
            at=at,
            task_id=self.task_id,
            proposal_id=self.id,
            summary=_clip(self.summary),
            cost_usd=self.cost_spent_usd,
            proposal_status=self.status,
            task_status=TaskStatus.PROPOSED,
            detail={
                "version": self.version,
                "actions": [a.kind for a in self.actions],
                "risk": self.risk,
                "playbook": self.playbook,
                "flagged": self.flagged,
                **({"revised": self.revised} if self.revised else {}),
            },
        )

    def remind(self, at: datetime, next_at: datetime | None) -> ev.Event:
        self.reminders += 1
        self.remind_at = next_at
        return ev.ProposalReminded(
            at=at, task_id=self.task_id, proposal_id=self.id, detail={"reminder": self.reminders}
        )

    def snooze(self, actor: Actor, until: datetime, at: datetime) -> ev.Event:
        self.remind_at = until
        return ev.ProposalSnoozed(
            at=at, task_id=self.task_id, proposal_id=self.id, actor=actor.id, detail={"until": until.isoformat()}
        )

    def expire(self, at: datetime, reason: str) -> ev.Event:
        _check(f"proposal {self.id}", PROPOSAL_MOVES, self.status, ProposalStatus.EXPIRED)
        self.status, self.remind_at = ProposalStatus.EXPIRED, None
        return ev.ProposalExpired(
            at=at,
            task_id=self.task_id,
            proposal_id=self.id,
            summary=_clip(reason),
            proposal_status=self.status,
            task_status=TaskStatus.EXPIRED,
        )

    def decide(self, decision: Decision) -> ev.Event:
        """First decision wins: a decided proposal raises `AlreadyDecided`-worthy `InvalidTransition`."""
        approve = decision.verdict is Verdict.APPROVE
        new = ProposalStatus.APPROVED if approve else ProposalStatus.REJECTED
        _check(f"proposal {self.id}", PROPOSAL_MOVES, self.status, new)
        self.status, self.decision = new, decision
        cls = ev.ProposalApproved if approve else ev.ProposalRejected
        return cls(
            at=decision.at,
            task_id=self.task_id,
            proposal_id=self.id,
            actor=decision.actor.id,
            summary=_clip(decision.reason),
            proposal_status=new,
            task_status=TaskStatus.APPROVED if approve else TaskStatus.REJECTED,
            detail={"version": decision.version, "by": decision.actor.label},
        )

    def undo(self, actor: Actor, at: datetime) -> ev.Event:
        _check(f"proposal {self.id}", PROPOSAL_MOVES, self.status, ProposalStatus.UNDONE)
        self.status = ProposalStatus.UNDONE
        return ev.ProposalUndone(
            at=at,
            task_id=self.task_id,
            proposal_id=self.id,
            actor=actor.id,
            summary="undone before it ran",
            proposal_status=self.status,
            task_status=TaskStatus.UNDONE,
        )

    def edit(self, index: int, action: StagedAction, actor: Actor, at: datetime) -> ev.Event:
        """A new version with one action replaced; decisions name a version, so older cards can't approve it."""
        if self.status is not ProposalStatus.PENDING:
            raise InvalidTransition(f"proposal {self.id} is {self.status.value}; only a pending one can be edited")
        self.summary = retitled(self.summary, self.actions[index], action, alone=len(self.actions) == 1)
        self.actions[index] = action
        self.version += 1
        return ev.ProposalEdited(
            at=at,
            task_id=self.task_id,
            proposal_id=self.id,
            actor=actor.id,
            summary=_clip(action.summary),
            detail={"version": self.version, "action_index": index},
        )

    def revise(self, actions: list[StagedAction], summary: str, cost_usd: float, at: datetime) -> ev.Event:
        """The agent's revision with the operator's feedback as the next version: older cards can't approve it."""
        ask = self.revising
        if self.status is not ProposalStatus.PENDING or ask is None or ask.version != self.version:
            raise InvalidTransition(f"proposal {self.id} is not waiting for a revision of version {self.version}")
        self.actions, self.summary, self.revised, self.revising = actions, summary, ask.feedback, None
        self.version, self.cost_spent_usd = self.version + 1, round(self.cost_spent_usd + cost_usd, 8)
        return ev.ProposalRevised(
            at=at,
            task_id=self.task_id,
            proposal_id=self.id,
            actor=ask.actor.id,
            cost_usd=cost_usd,
            summary=_clip(f"revised: “{ask.feedback}”"),
            detail={"version": self.version, "by": ask.actor.label, "feedback": ask.feedback},
        )

    def scheduled(self, index: int, word: str, at: datetime, *, by: Actor | None = None, **detail: Any) -> ev.Event:
        """What became of a request this proposal scheduled for later: it ran, or (`by` an operator) it was
        cancelled. Said on its action, so a second press knows, and in the ledger."""
        action = self.actions[index]
        action.word = word
        cls = ev.LaterCancelled if by else ev.LaterFired
        return cls(
            at=at,
            task_id=self.task_id,
            proposal_id=self.id,
            actor=by.id if by else None,
            summary=_clip(f"{action.summary} — {word}"),
            detail={"index": index, **detail},
        )

    def action_moved(self, index: int, new: ActionStatus, at: datetime, outcome: str = "") -> ev.Event:
        action = self.actions[index]
        action.move(new, f"{self.id}:{index}")
        action.outcome = outcome or action.outcome
        return MOVED[new](
            at=at,
            task_id=self.task_id,
            proposal_id=self.id,
            action_index=index,
            action_status=new,
            summary=_clip(outcome or action.summary),
            detail={"kind": action.kind},
        )

    def remedy(self, index: int, remedy: Remedy, actor: Actor, at: datetime) -> ev.Event:
        """The operator's word on one action that did not finish; the ledger keeps who said it."""
        action, rule = self.actions[index], REMEDIES[remedy]
        said = action.hear(rule, actor.label, at, f"{self.id}:{index}")
        return rule.event(
            at=at,
            task_id=self.task_id,
            proposal_id=self.id,
            actor=actor.id,
            action_index=index,
            action_status=action.status,
            summary=_clip(f"{action.summary} — {said}"),
            detail={"kind": action.kind, "attempt": action.attempt},
        )

    @property
    def settled(self) -> bool:
        """Every action reached an end: applied, failed or not run (one that may not have been sent has not)."""
        ends = (ActionStatus.APPLIED, ActionStatus.FAILED, ActionStatus.NOT_RUN)
        return all(a.status in ends for a in self.actions)


def retitled(summary: str, old: StagedAction, new: StagedAction, *, alone: bool) -> str:
    """The headline after an edit says what the card now does: the old values in it become the new ones, or, for
    a proposal of one action, it becomes that action's own description; the notes under it stay."""
    headline, *notes = summary.split("\n")
    changed = [(str(v), str(new.fields[k])) for k, v in old.fields.items() if new.fields.get(k) != v and str(v)]
    for before, after in changed:
        headline = headline.replace(before, after)
    if alone and changed and headline == summary.split("\n")[0]:
        headline = new.summary
    return "\n".join([headline, *notes])


def _clip(text: str) -> str:
    """A ledger event's summary: one line of at most SUMMARY_CHARS."""
    return one_line(text, SUMMARY_CHARS)
