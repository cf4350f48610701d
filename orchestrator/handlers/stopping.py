"""`/cancel <task id>` on a running task: the operator stops it. The task fails at once, saying who stopped it (the
ledger's `TaskFailed` carries the actor); the worker drafting it sees that within a second, abandons the model call
and stages nothing (a draft that arrives for a task no longer running is dropped: handlers/tasks.py `complete`)."""

from __future__ import annotations

from dataclasses import replace

from orchestrator import commands as cmd
from orchestrator import policies
from orchestrator.core import Core, Outcome
from orchestrator.errors import BadRequest
from orchestrator.outbound import Kind, Outbound
from orchestrator.statuses import TaskStatus

STOPPABLE = (TaskStatus.RECEIVED, TaskStatus.RUNNING, TaskStatus.PAUSED)


async def stop(c: cmd.CancelLater, core: Core) -> Outcome:
    task = await core.task(c.proposal_id)
    policies.require_operator(c.actor, core.config.operators, "stop running tasks")
    if task.status not in STOPPABLE:
        raise BadRequest(f"{task.id} is not running (it is {task.status.value}): there is nothing to stop.")
    failed = task.fail(f"stopped by {c.actor.label}", core.now())
    await core.store.commit([task], [replace(failed, actor=c.actor.id, detail={"stopped_by": c.actor.label})])
    text = f"Stopped by {c.actor.label}. Nothing was staged."
    reply_to = c.event_id or task.event_id  # the answer to /cancel, on the task's own message
    stopped = Outbound(kind=Kind.OUTCOME, text=text, task_id=task.id, reply_to=reply_to, final=True)
    await core.show(task, stopped)
    return Outcome(f"Stopped {task.id}.")
