"""A running task in /status (the time it has taken, how to stop it) and `/cancel <task id>` on it: the task fails
at once naming who stopped it, and a draft that arrives afterwards stages nothing."""

from __future__ import annotations

from orchestrator import commands as cmd
from orchestrator.model import ProposalDraft, TaskStatus
from tests.orchestrator.conftest import ME, Core

EMAIL = "email jane@acme.com about invoice 42"


async def test_status_shows_a_running_task_and_cancel_stops_it(core: Core) -> None:
    core.rewire({}, operators=frozenset({ME.id}))
    await core.say(EMAIL)
    [tid] = await core.store.ids("task", "received")
    await core.coordinator.handle(cmd.StartTask(tid))
    core.clock.advance(14)
    await core.say("/status")
    assert f"  {tid}: 14 s — {EMAIL}  (/cancel {tid})" in core.outbox.texts[-1]
    await core.store.set_step(tid, "Drafting with gemma")  # what its progress message says (the worker's reporter)
    await core.say("/status")
    assert f"  {tid}: Drafting with gemma · 14 s — {EMAIL}  (/cancel {tid})" in core.outbox.texts[-1]
    await core.say(f"/cancel {tid}")
    assert "Stopped by you. Nothing was staged." in core.outbox.texts
    task = await core.store.get_task(tid)
    assert task is not None and task.status is TaskStatus.FAILED and task.error == "stopped by you"
    fields = {"to": "jane@acme.com", "subject": "s", "body": "b"}
    draft = ProposalDraft(playbook="email", summary="s", risk="low", actions=[("email.send", fields)])
    await core.coordinator.handle(cmd.CompleteDraft(tid, draft))  # the worker's draft, too late
    assert await core.store.ids("proposal", "pending") == []
    await core.say(f"/cancel {tid}")
    assert f"{tid} is not running (it is failed): there is nothing to stop." in core.outbox.texts[-1]
