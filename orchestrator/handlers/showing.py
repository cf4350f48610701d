"""Committed means shown. A commit that moves a task to a state the operator must see (a staged card, an
outcome, "may not have been sent") marks it unshown in the same atomic step (memory/store.py); the post that
follows clears the mark. A worker killed in between leaves the mark, and this handler shows the task's current
state again: from the job's re-run at once, else from the scheduler's show pass. It edits the task's message in
place when its reference is known, so a re-show never adds a second card."""

from __future__ import annotations

import copy

from orchestrator import commands as cmd
from orchestrator.core import Core
from orchestrator.handlers.applying import standing
from orchestrator.model import ActionStatus, Proposal, ProposalStatus, Task, TaskStatus
from orchestrator.outbound import Kind, Outbound

SETTLED = (TaskStatus.DONE, TaskStatus.FAILED, TaskStatus.AWAITING_OPERATOR)


async def show_again(c: cmd.ShowAgain, core: Core) -> None:
    if c.task_id not in await core.store.unshown():
        return  # shown meanwhile (by the handler that committed it, or another pass)
    task = await core.task(c.task_id)
    proposal = await core.store.get_proposal(task.proposal_id) if task.proposal_id else None
    message = current(core, task, proposal)
    if message is None:
        await core.shown(task)  # nothing of it is the operator's to see
    else:
        await core.show(task, message)


def current(core: Core, task: Task, proposal: Proposal | None) -> Outbound | None:
    """The message that shows where the task stands now, as the handler that committed it would have said it."""
    if proposal is None:
        return _answer(task)
    if task.status is TaskStatus.PROPOSED and proposal.status is ProposalStatus.PENDING:
        return _card(task, proposal)
    if task.status not in SETTLED or proposal.status is not ProposalStatus.APPROVED:
        return None
    if task.status is TaskStatus.FAILED and not any(a.status is ActionStatus.FAILED for a in proposal.actions):
        return _failed(task)  # the job failed for good, not an action
    probe = copy.deepcopy(task)
    probe.status = TaskStatus.APPLYING  # `standing` moves the task; the copy lets it say what the move said
    return standing(core, probe, proposal)[1]


def _card(task: Task, proposal: Proposal) -> Outbound:
    return Outbound(
        kind=Kind.CARD, text=proposal.summary, proposal=proposal, task_id=task.id, reply_to=task.event_id, final=True
    )


def _answer(task: Task) -> Outbound | None:
    if task.status is TaskStatus.DONE:
        return Outbound(kind=Kind.NOTICE, text=task.reply, task_id=task.id, reply_to=task.event_id, final=True)
    return _failed(task) if task.status is TaskStatus.FAILED else None


def _failed(task: Task) -> Outbound:
    text = f"Task {task.id} failed: {task.error}"
    return Outbound(kind=Kind.ERROR, text=text, task_id=task.id, reply_to=task.event_id, final=True)
