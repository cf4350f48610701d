"""Soak: many tasks through real workers while workers — or only their warm job processes, mid-job — are
killed with -9 throughout. Whatever the timing, every task settles — done, or waiting for the operator's word
where a kill came after the hand-over — no email is ever sent twice, a task is done only if its email arrived,
the operator's Send again or Mark as sent leaves every email sent exactly once, and the ledger replays to the
stored state. Behind the `soak` marker; `make test` runs it as its own step."""

from __future__ import annotations

import asyncio
import os
import random
import signal
import socket
import subprocess
from collections import Counter
from pathlib import Path

import pytest

from bot.wiring import Runtime
from memory import keys
from tests.conftest import Smtp, Workers, deputy, eventually
from tests.e2e.helpers import give_the_word, send
from tests.e2e.procs import children

TASKS = 30
SLOW_DRAFT_MS = "200"  # drafting takes a while, so kills land on running jobs


async def all_settled(runtime: Runtime, states: tuple[str, ...] = ("done", "failed", "awaiting_operator")) -> bool:
    return sum([len(await runtime.store.ids("task", s)) for s in states]) == TASKS


async def unsettled(runtime: Runtime) -> dict[str, list[str]]:
    """Which tasks are where, for a failure message worth reading."""
    states = ("received", "running", "paused", "proposed", "approved", "applying", "awaiting_operator")
    return {s: await runtime.store.ids("task", s) for s in states if await runtime.store.ids("task", s)}


async def chaos(runtime: Runtime, workers: Workers, stop: asyncio.Event, kills: dict[str, int]) -> None:
    """Every 0.3–0.9 s, kill -9 a random working worker (and start a fresh one) or only its warm job process
    (its worker starts another), until told to stop. Only a worker that has started (its liveness key is up)
    is a victim: one still importing has no job to lose, and on a slow machine killing those would starve the
    queue instead of testing recovery. For the same reason a kill waits for the ledger to have grown since the
    last one: on a busy machine the kills keep pace with the work, instead of a fixed rate of fresh workers (a
    second of CPU each) slowing the work and so bringing more kills."""
    rng = random.Random(7)
    running = [p for p in workers.processes if p.poll() is None]
    seen = -1
    while not stop.is_set():
        await asyncio.sleep(rng.uniform(0.3, 0.9))
        grown = int(await runtime.redis.xlen(keys.LEDGER))
        working = [p for p in running if await runtime.redis.exists(keys.worker_alive(_running_on(p)))]
        if not working or grown == seen:
            continue
        seen = grown
        victim = working[rng.randrange(len(working))]
        job_processes = children(victim.pid)
        if job_processes and rng.random() < 0.5:
            os.kill(job_processes[0], signal.SIGKILL)
            kills["job process"] += 1
            continue
        running.remove(victim)
        workers.kill9(victim)
        kills["worker"] += 1
        running.append(workers.start(DEPUTY_OFFLINE_LATENCY_MS=SLOW_DRAFT_MS))


async def approve_as_they_come(runtime: Runtime, stop: asyncio.Event) -> None:
    approved: set[str] = set()
    while not stop.is_set():
        for pid in set(await runtime.store.ids("proposal", "pending")) - approved:
            approved.add(pid)
            await send(runtime, f"/approve {pid}", f"soak-approve-{pid}")
        await asyncio.sleep(0.05)


@pytest.mark.soak
async def test_exactly_once_while_workers_are_killed(
    runtime: Runtime, workers: Workers, smtp: Smtp, env: dict[str, str], tmp_path: Path
) -> None:
    for _ in range(2):
        workers.start(DEPUTY_OFFLINE_LATENCY_MS=SLOW_DRAFT_MS)
    stop = asyncio.Event()
    kills = {"worker": 0, "job process": 0}  # what the chaos loop killed
    background = [
        asyncio.create_task(chaos(runtime, workers, stop, kills)),
        asyncio.create_task(approve_as_they_come(runtime, stop)),
    ]
    for i in range(TASKS):
        await send(runtime, f"email client{i}@example.com about invoice {i}", f"soak-ask-{i}")
    try:
        await eventually(lambda: all_settled(runtime), 240, "every task to settle through the chaos")
    except AssertionError:
        raise AssertionError(f"not settled after 240 s: {await unsettled(runtime)}") from None
    stop.set()
    await asyncio.gather(*background)

    sent = Counter(m["To"] for m in smtp.messages)
    assert not sent or max(sent.values()) == 1, "an email was sent twice"
    asked = await give_the_word(runtime, sent)
    try:
        await eventually(lambda: all_settled(runtime, ("done",)), 60, "every task to be done after the operator's word")
    except AssertionError:
        raise AssertionError(f"not done after the operator's word: {await unsettled(runtime)}") from None
    sent = Counter(m["To"] for m in smtp.messages)
    assert len(sent) == TASKS and max(sent.values()) == 1, "not every email was sent exactly once"
    print(f"soak: {TASKS} tasks, kills {kills}, {len(smtp.messages)} emails, {asked} asked the operator")
    assert sum(kills.values()) >= 3, "the chaos loop hardly killed a working worker: the soak proved little"
    assert kills["job process"] >= 1, "no warm job process was killed: that path went untested"
    replay = deputy("replay", env=env, cwd=tmp_path)
    assert replay.returncode == 0, replay.stdout


@pytest.mark.soak
async def test_a_job_whose_worker_dies_more_often_than_it_has_retries_still_completes(
    runtime: Runtime, workers: Workers
) -> None:
    slow = {"DEPUTY_OFFLINE_LATENCY_MS": "2500"}
    current = workers.start(**slow)
    await send(runtime, "email jane@acme.com about invoice 42", "die-four-times")
    [task_id] = await runtime.store.ids("task", "received")
    for _ in range(4):  # one more death than RETRY_INTERVALS allows retries
        alive = keys.worker_alive(_running_on(current))
        await eventually(lambda: runtime.redis.exists(alive), 20, "a live worker")  # noqa: B023 (awaited here)
        await eventually(lambda: _started(runtime), 30, "the draft job to start")
        workers.kill9(current)
        current = workers.start(**slow)
    workers.start()
    await eventually(lambda: _proposed(runtime, task_id), 60, "the task to survive four worker deaths")


def _running_on(process: subprocess.Popen[bytes]) -> str:
    """The worker's name (and liveness key) for a worker process."""
    return f"deputy-{socket.gethostname()}-{process.pid}"


async def _started(runtime: Runtime) -> bool:
    return bool(await runtime.redis.zcard("rq:wip:deputy"))


async def _proposed(runtime: Runtime, task_id: str) -> bool:
    task = await runtime.store.get_task(task_id)
    return task is not None and task.status.value == "proposed"
