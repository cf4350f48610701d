"""The operator's word on an apply that could not finish: Send again or Mark as sent for an action that may
not have been sent, Run the rest after one failed. Each is the operator's decision, in the ledger with who
made it; only operators may give it, and a second press changes nothing and says what happened."""

from __future__ import annotations

from orchestrator import commands as cmd
from orchestrator import policies
from orchestrator.actions import REMEDIES, Remedy
from orchestrator.core import Core, Outcome
from orchestrator.errors import AlreadyDecided, BadRequest
from orchestrator.events import Event
from orchestrator.handlers.applying import standing
from orchestrator.model import ActionStatus, Proposal, Task, TaskStatus
from orchestrator.outbound import Kind, Outbound

DOING = {
    Remedy.SEND_AGAIN: "send actions again",
    Remedy.MARK_SENT: "mark actions as sent",
    Remedy.RUN_AGAIN: "run the rest of a proposal",
}


async def send_again(c: cmd.SendAgain, core: Core) -> Outcome:
    proposal, task, index = await _waiting(c, core, Remedy.SEND_AGAIN)
    event = proposal.remedy(index, Remedy.SEND_AGAIN, c.actor, core.now())
    return await _resume(core, task, proposal, [event], c, f"Sending #{index + 1} of {proposal.id} again")


async def mark_sent(c: cmd.MarkSent, core: Core) -> Outcome:
    """Applied on the operator's word; the rest of the proposal, if any, runs next."""
    proposal, task, index = await _waiting(c, core, Remedy.MARK_SENT)
    event = proposal.remedy(index, Remedy.MARK_SENT, c.actor, core.now())
    said = f"Marked #{index + 1} of {proposal.id} as sent"
    if any(a.status is ActionStatus.APPLYING for a in proposal.actions):
        return await _resume(core, task, proposal, [event], c, f"{said}; running the rest")
    proposal.answer_to = c.event_id
    settled, message = standing(core, task, proposal)
    await core.store.commit([task, proposal], [event, settled])
    return Outcome(f"{said}.", then=(cmd.AfterRemedy(task=task, message=message, chat=c.chat, apply=False),))


async def run_rest(c: cmd.RunRest, core: Core) -> Outcome:
    """The failed action and the ones not run go back to be applied in order; applied ones stay applied."""
    proposal = await core.proposal(c.proposal_id)
    policies.require_operator(c.actor, core.config.operators, DOING[Remedy.RUN_AGAIN])
    task = await core.task(proposal.task_id)
    again = [i for i, a in enumerate(proposal.actions) if a.status in REMEDIES[Remedy.RUN_AGAIN].moves_from]
    if task.status is not TaskStatus.FAILED or not again:
        raise AlreadyDecided(_nothing_to_run(proposal, task))
    events = [proposal.remedy(i, Remedy.RUN_AGAIN, c.actor, core.now()) for i in again]
    return await _resume(core, task, proposal, events, c, f"Running the rest of {proposal.id}")


async def after(c: cmd.AfterRemedy, core: Core) -> None:
    """Redraw the card first (the apply's outcome must not be overtaken by it), then queue the apply."""
    await core.show(c.task, c.message)
    if c.chat != c.task.chat:
        await core.say(c.chat, Kind.NOTICE, c.message.text, task_id=c.task.id, reply_to=c.message.reply_to, final=True)
    if c.apply and c.task.proposal_id:
        job = core.queue.enqueue_apply(c.task.proposal_id, again=True)
        await core.enqueue(job, f"apply {c.task.proposal_id} after the operator's word")


async def _resume(
    core: Core,
    task: Task,
    proposal: Proposal,
    events: list[Event],
    c: cmd.SendAgain | cmd.MarkSent | cmd.RunRest,
    said: str,
) -> Outcome:
    """Back to applying: the word and the task's move in one commit; the card and the job follow."""
    proposal.answer_to = c.event_id
    moved = task.applying(core.now())
    await core.store.commit([task, proposal], [*events, *([moved] if moved else [])])
    text = f"{said} ({c.actor.label})…"
    message = Outbound(kind=Kind.OUTCOME, text=text, proposal=proposal, task_id=task.id, reply_to=c.event_id or None)
    return Outcome(f"{said}.", then=(cmd.AfterRemedy(task=task, message=message, chat=c.chat, apply=True),))


async def _waiting(c: cmd.SendAgain | cmd.MarkSent, core: Core, remedy: Remedy) -> tuple[Proposal, Task, int]:
    """The proposal, its task and the action that may not have been sent, or why there is none."""
    proposal = await core.proposal(c.proposal_id)
    policies.require_operator(c.actor, core.config.operators, DOING[remedy])
    index = _which(proposal, c.index)
    if proposal.actions[index].status is not ActionStatus.UNCERTAIN:
        raise AlreadyDecided(_not_waiting(proposal, index))
    return proposal, await core.task(proposal.task_id), index


def _which(proposal: Proposal, index: int | None) -> int:
    """The action asked for, else the one that waits, else the last one the operator spoke about."""
    if index is not None:
        if not 0 <= index < len(proposal.actions):
            raise BadRequest(f"Proposal {proposal.id} has no action #{index + 1}.")
        return index
    waiting = [i for i, a in enumerate(proposal.actions) if a.status is ActionStatus.UNCERTAIN]
    if waiting:
        return waiting[0]
    spoken = [i for i, a in enumerate(proposal.actions) if a.word]
    return spoken[-1] if spoken else 0


def _not_waiting(proposal: Proposal, index: int) -> str:
    action, name = proposal.actions[index], f"#{index + 1} of {proposal.id}"
    if action.word:
        now = "" if action.status is ActionStatus.APPLIED else f" and is {action.status.value} now"
        return f"{name} was already {action.word}{now}. Nothing changed."
    return (
        f"{name} is {action.status.value}; only an action that may not have been sent can be sent again or "
        "marked as sent. Nothing changed."
    )


def _nothing_to_run(proposal: Proposal, task: Task) -> str:
    spoken = [a.word for a in proposal.actions if a.word]
    if task.status is TaskStatus.APPLYING and spoken:
        return f"The rest of {proposal.id} is already running ({spoken[-1]}). Nothing changed."
    if task.status is TaskStatus.AWAITING_OPERATOR:
        return f"Proposal {proposal.id} waits for your word first: Send again or Mark as sent. Nothing changed."
    return f"Proposal {proposal.id} is {task.status.value.replace('_', ' ')}; there is nothing to run. Nothing changed."
