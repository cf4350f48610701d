"""The promises that make Deputy trustworthy, tested against real processes: one decision wins, a killed
worker loses nothing and sends nothing twice, and the ledger agrees with the stores afterwards."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
import time
from pathlib import Path

from bot.wiring import Runtime
from memory.liveness import alive_workers
from memory.streams import range_after
from orchestrator.commands import Inbound
from orchestrator.model import Actor, ChatRef, TaskStatus
from tests.conftest import Smtp, Workers, deputy, eventually
from tests.e2e.helpers import converse, proposal_id, send

CONSOLE = ChatRef("console", "local")


async def decisions(runtime: Runtime) -> list[str]:
    return [e.type for _, e in await runtime.ledger.read() if e.type in ("ProposalApproved", "ProposalRejected")]


async def test_fifty_concurrent_decisions_make_one_and_at_most_one_email(
    runtime: Runtime, workers: Workers, smtp: Smtp
) -> None:
    workers.start()
    pid = proposal_id(await converse(runtime, "email jane@acme.com about invoice 42"))
    me = Actor("console", "operator", "you")
    clicks = [
        runtime.coordinator.receive(
            Inbound(actor=me, chat=CONSOLE, text=f"/{'approve' if i % 2 else 'reject'} {pid}", event_id=f"click-{i}")
        )
        for i in range(50)
    ]
    await asyncio.gather(*clicks)
    made = await decisions(runtime)
    assert len(made) == 1
    task = await runtime.store.get_task((await runtime.store.get_proposal(pid)).task_id)  # type: ignore[union-attr]
    assert task is not None
    final = await eventually(lambda: _terminal(runtime, task.id), what="task to settle")
    assert len(smtp.messages) == (1 if made == ["ProposalApproved"] else 0)
    assert final in ("done", "rejected")


async def _terminal(runtime: Runtime, task_id: str) -> str | None:
    task = await runtime.store.get_task(task_id)
    return (
        task.status.value if task and task.status in (TaskStatus.DONE, TaskStatus.REJECTED, TaskStatus.FAILED) else None
    )


async def test_non_operator_cannot_approve(runtime: Runtime, workers: Workers, smtp: Smtp) -> None:
    workers.start()
    pid = proposal_id(await converse(runtime, "email jane@acme.com about invoice 42"))
    stranger = Actor("slack", "U999", "mallory")
    await send(runtime, f"/approve {pid}", "x1", actor=stranger)
    _, last = (await range_after(runtime.redis, "deputy:console:local", "0", count=100))[-1]
    assert "You can't approve or reject proposals" in last["text"] and "slack:U999" in last["text"]
    proposal = await runtime.store.get_proposal(pid)
    assert proposal and proposal.status.value == "pending" and await decisions(runtime) == []


async def test_worker_killed_while_drafting_the_task_still_completes(
    runtime: Runtime, workers: Workers, env: dict[str, str], tmp_path: Path
) -> None:
    slow = workers.start(DEPUTY_OFFLINE_LATENCY_MS="4000")
    await send(runtime, "email jane@acme.com about invoice 42", "k1")
    [task_id] = await runtime.store.ids("task", "received") or await runtime.store.ids("task", "running")
    await eventually(lambda: _status(runtime, task_id, "running"), what="the worker to start drafting")
    await asyncio.sleep(0.3)
    workers.kill9(slow)
    started = time.monotonic()
    workers.start()
    await eventually(lambda: _status(runtime, task_id, "proposed"), timeout=30, what="recovery after kill -9")
    assert time.monotonic() - started < 20, "abandoned job was not re-queued promptly"
    assert [e.type for _, e in await runtime.ledger.read()].count("ProposalStaged") == 1
    replay = deputy("replay", env=env, cwd=tmp_path)
    assert replay.returncode == 0, replay.stdout


async def _status(runtime: Runtime, task_id: str, status: str) -> bool:
    task = await runtime.store.get_task(task_id)
    return bool(task and task.status.value == status)


async def test_worker_killed_between_smtp_send_and_recording_sends_one_email(
    runtime: Runtime, workers: Workers, smtp: Smtp, env: dict[str, str], tmp_path: Path
) -> None:
    first = workers.start()
    pid = proposal_id(await converse(runtime, "email jane@acme.com about invoice 42"))
    smtp.on_data = lambda: workers.kill9(first)  # the server has the message; the worker never hears "250"
    await send(runtime, f"/approve {pid}", "k2")
    await eventually(lambda: first.poll() is not None, what="the worker to be killed")
    workers.start()
    proposal = await runtime.store.get_proposal(pid)
    assert proposal is not None
    await eventually(
        lambda: _status(runtime, proposal.task_id, "awaiting_operator"), timeout=30, what="recovery after kill -9"
    )
    assert len(smtp.messages) == 1
    applied = await runtime.store.get_proposal(pid)
    assert applied and applied.actions[0].status.value == "uncertain"
    assert "before it was confirmed" in applied.actions[0].outcome
    replay = deputy("replay", env=env, cwd=tmp_path)
    assert replay.returncode == 0, replay.stdout


async def test_a_task_whose_enqueue_failed_is_picked_up_by_the_sweep(runtime: Runtime, workers: Workers) -> None:
    async def unreachable(task_id: str, *, again: bool = False) -> None:
        raise ConnectionError("queue unreachable")

    runtime.coordinator.core.queue.enqueue_run = unreachable  # type: ignore[method-assign]
    await send(runtime, "email jane@acme.com about invoice 42", "lost-enqueue")
    [task_id] = await runtime.store.ids("task", "received")
    workers.start()
    await eventually(lambda: _status(runtime, task_id, "proposed"), timeout=20, what="the sweep to enqueue it")


async def test_the_scheduler_sweeps_without_being_a_worker(
    runtime: Runtime, env: dict[str, str], tmp_path: Path
) -> None:
    async def unreachable(task_id: str, *, again: bool = False) -> None:
        raise ConnectionError("queue unreachable")

    runtime.coordinator.core.queue.enqueue_run = unreachable  # type: ignore[method-assign]
    await send(runtime, "plan the launch", "for-the-scheduler")
    [task_id] = await runtime.store.ids("task", "received")
    scheduler = subprocess.Popen(
        [sys.executable, "-m", "bot.cli", "scheduler"],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        await eventually(lambda: runtime.redis.exists(f"rq:job:run-{task_id}"), 20, "the sweep to enqueue it")
        assert await alive_workers(runtime.redis) == 0
    finally:
        scheduler.send_signal(signal.SIGTERM)
        assert scheduler.wait(10) == 0
