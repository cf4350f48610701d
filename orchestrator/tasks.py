"""A task: one request from a chat, from received to done. The task is the aggregate that owns its proposal:
a decision, an undo or an expiry moves both in one method that returns the one ledger event recording it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from orchestrator import events as ev
from orchestrator.actors import Actor, ChatRef, Decision, MemoryAsk, Verdict
from orchestrator.errors import InvalidTransition
from orchestrator.proposals import Proposal
from orchestrator.statuses import TASK_MOVES, TaskStatus, check
from orchestrator.statuses import clip as _clip
from orchestrator.text import masked


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
        self._can(new)
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

    def fail(self, reason: str, at: datetime, *, told: bool = False) -> ev.Event:
        """`told`: the request couldn't be drafted as asked and the sender was told why at once (no address, a
        malformed one): not a failure that needs attention later (the digest leaves it out)."""
        self._move(TaskStatus.FAILED)
        self.error = reason = masked(reason)
        return ev.TaskFailed(
            at=at,
            task_id=self.id,
            proposal_id=self.proposal_id,
            summary=_clip(reason),
            task_status=self.status,
            detail={"told": True} if told else {},
        )

    def decide(self, proposal: Proposal, decision: Decision) -> ev.ProposalApproved | ev.ProposalRejected:
        """The decision moves the proposal and this task together, or neither: the first decision wins, a later
        one (or a task that moved on) raises `InvalidTransition`. The proposal's event records both."""
        self._owns(proposal)
        self._can(TaskStatus.APPROVED if decision.verdict is Verdict.APPROVE else TaskStatus.REJECTED)
        event = proposal.decide(decision)
        self._move(TaskStatus.APPROVED if decision.verdict is Verdict.APPROVE else TaskStatus.REJECTED)
        return event

    def undo(self, proposal: Proposal, actor: Actor, at: datetime) -> ev.ProposalUndone:
        """Cancelled before it ran: the proposal and this task, together, in one event."""
        self._owns(proposal)
        self._can(TaskStatus.UNDONE)
        event = proposal.undo(actor, at)
        self._move(TaskStatus.UNDONE)
        return event

    def expire(self, proposal: Proposal, at: datetime, reason: str) -> ev.ProposalExpired:
        """Nobody decided in time: the proposal and this task, together, in one event."""
        self._owns(proposal)
        self._can(TaskStatus.EXPIRED)
        event = proposal.expire(at, reason)
        self._move(TaskStatus.EXPIRED)
        return event

    def _owns(self, proposal: Proposal) -> None:
        if proposal.task_id != self.id:
            raise InvalidTransition(f"proposal {proposal.id} belongs to task {proposal.task_id}, not {self.id}")

    def _can(self, new: TaskStatus) -> None:
        check(f"task {self.id}", TASK_MOVES, self.status, new)

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
