"""The hard daily budget, seen from the core: a task whose next model call would pass today's cap is paused,
and the operator gets one proposal to raise the cap — an approval like any other (ledger, buttons, exactly
once) — or to stop. Approving resumes every paused task; rejecting stops them.

The cap itself is enforced atomically where the calls are made (agents/llm.py over memory/spend.py); these
handlers only decide what the operator sees and what happens to the paused work."""

from __future__ import annotations

import logging

from orchestrator import commands as cmd
from orchestrator.core import Core, Outcome
from orchestrator.errors import BadRequest
from orchestrator.handlers.tasks import proposal_from
from orchestrator.model import Actor, Proposal, ProposalDraft, Task, TaskStatus
from orchestrator.outbound import Kind, Outbound
from orchestrator.policies import BUDGET_KIND, BUDGET_PLAYBOOK

log = logging.getLogger("deputy.budget")
ASKER = Actor("policy", "budget", "daily budget")
ASK_TTL_SECONDS = 2 * 24 * 3600


def raise_step(daily_budget_usd: float) -> float:
    """How much one approval adds: one more day's budget (at least a cent, so a $0 cap can be lifted)."""
    return round(max(daily_budget_usd, 0.01), 2)


async def pause(c: cmd.PauseTask, core: Core) -> Outcome | None:
    """The task pauses and, if nobody has yet at this cap level, the question is staged in the same commit: a
    crash at any point leaves either neither or both, so paused work always has its question. Two workers
    pausing at once conflict on the question's task (its id comes from the cap level); the bus runs the loser
    again, and it only pauses."""
    task = await core.task(c.task_id)
    if task.status is not TaskStatus.RUNNING:
        return None
    now = core.now()
    reason = f"today's model budget is used up (${c.spent_usd:.4f} of ${c.cap_usd:.2f})"
    ask = await _question(core, task, c)
    records: list[Task | Proposal] = [task, *(ask or ())]
    events = [task.pause(reason, now)]
    if ask is not None:
        events += [ask[0].submitted(now), ask[0].start(now), ask[0].propose(ask[1], now)]
    await core.store.commit(records, events)
    text = f"Paused: {reason}. I've asked whether to raise it; nothing more is spent until then."
    # final: the task waits on the operator now, as a card does (the console gives the prompt back)
    await core.show(task, Outbound(kind=Kind.PROGRESS, text=text, task_id=task.id, reply_to=task.event_id, final=True))
    if ask is not None:
        question, proposal = ask
        card = Outbound(
            kind=Kind.CARD,
            text=proposal.summary,
            proposal=proposal,
            task_id=question.id,
            reply_to=question.event_id,
            final=True,
        )
        await core.show(question, card)
    return None


async def _question(core: Core, paused: Task, c: cmd.PauseTask) -> tuple[Task, Proposal] | None:
    """The question to stage with this pause, or None: asked already at this cap level (or it can't be)."""
    ask_id, _ = await core.ids.id_for(f"budget-ask:{c.date}:{c.cap_usd:.6f}", "t", ASK_TTL_SECONDS)
    if await core.store.get_task(ask_id) is not None:
        return None
    ask = await _ask(core, ask_id, paused, c)
    if ask is None:
        log.error("task %s paused, but the budget question can't be staged (no budget.raise connector)", paused.id)
    return ask


async def _ask(core: Core, ask_id: str, paused: Task, c: cmd.PauseTask) -> tuple[Task, Proposal] | None:
    """A task of Deputy's own whose proposal is the question (never auto-approved: `budget.raise`)."""
    now, step = core.now(), raise_step(core.config.daily_budget_usd)
    ask = Task(
        id=ask_id,
        text=f"Raise today's model budget by ${step:.2f}",
        actor=ASKER,
        chat=paused.chat,
        event_id=f"budget:{c.date}:{c.cap_usd:.6f}",
        created_at=now,
    )
    draft = ProposalDraft(
        playbook=BUDGET_PLAYBOOK,
        summary=(
            f"Today's model budget is used up: ${c.spent_usd:.4f} of ${c.cap_usd:.2f}. "
            f"Raise it by ${step:.2f} to ${c.cap_usd + step:.2f} and carry on, or stop the waiting tasks."
        ),
        risk="high",
        actions=[(BUDGET_KIND, {"date": c.date, "usd": step})],
    )
    try:
        return ask, await proposal_from(core, ask, draft)
    except BadRequest:
        return None


async def paused(core: Core) -> list[Task]:
    ids = sorted(await core.store.ids("task", TaskStatus.PAUSED.value))
    return [t for t in [await core.store.get_task(i) for i in ids] if t is not None]


async def resume(c: cmd.ResumePaused, core: Core) -> None:
    """The cap was raised: every paused task goes back on the queue (`StartTask` picks it up again)."""
    for task in await paused(core):
        await core.enqueue(core.queue.enqueue_run(task.id, again=True), f"run {task.id}")


async def stop(c: cmd.StopPaused, core: Core) -> Outcome:
    reason = f"stopped by {c.by}: today's model budget is used up. Nothing was sent."
    return Outcome(then=tuple(cmd.FailTask(task.id, reason) for task in await paused(core)))
