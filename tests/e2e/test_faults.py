"""Workers ride out faults, against real processes: Redis killed and restarted on its port and data dir while
jobs flow (every task finishes, no worker exits, nothing lost or sent twice); a job that hangs past its
timeout is interrupted and retried on a fresh process while other jobs flow; a job that can't be interrupted
has its process killed and goes through its retries. Behind the `soak` marker."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from redis import Redis
from redis.exceptions import RedisError
from rq import Retry
from rq.job import Job

from agents.queue import rq_queue
from bot.wiring import Runtime, build_runtime
from memory import keys
from tests.conftest import Smtp, Workers, eventually, settings_from, wait_for
from tests.e2e.helpers import give_the_word, send
from tests.e2e.procs import RestartableRedis, children

TASKS = 12


@pytest.fixture
def own_env(env: dict[str, str], restartable: RestartableRedis) -> dict[str, str]:
    return {**env, "REDIS_URL": restartable.url, "DEPUTY_OFFLINE_LATENCY_MS": "150"}


@pytest.fixture
async def own_runtime(own_env: dict[str, str]) -> AsyncIterator[Runtime]:
    rt = build_runtime(settings_from(own_env), own_env["REDIS_URL"])
    yield rt
    await rt.close()


async def approve_through_faults(runtime: Runtime, stop: asyncio.Event) -> None:
    """Approve each pending proposal; while Redis is down, press again a moment later (a new press: the
    first one's dedupe claim may have outlived its failure)."""
    presses = 0
    while not stop.is_set():
        try:
            for pid in await runtime.store.ids("proposal", "pending"):
                presses += 1
                await send(runtime, f"/approve {pid}", f"fault-approve-{pid}-{presses}")
        except (RedisError, OSError):
            pass
        await asyncio.sleep(0.2)


async def settled(runtime: Runtime, states: tuple[str, ...] = ("done", "awaiting_operator")) -> bool:
    """Done, or waiting for the operator's word where Redis went away after an email's hand-over."""
    try:
        return sum([len(await runtime.store.ids("task", s)) for s in states]) == TASKS
    except RedisError:
        return False


@pytest.mark.soak
async def test_redis_killed_and_restarted_while_jobs_flow(
    own_runtime: Runtime, own_env: dict[str, str], restartable: RestartableRedis, smtp: Smtp, tmp_path: Path
) -> None:
    pool = Workers(own_env, tmp_path)
    started = [pool.start(), pool.start()]
    stop = asyncio.Event()
    approving = asyncio.create_task(approve_through_faults(own_runtime, stop))
    try:
        await eventually(lambda: _alive_workers(own_runtime, 2), 30, "two workers")
        for i in range(TASKS // 2):
            await send(own_runtime, f"email client{i}@example.com about invoice {i}", f"fault-ask-{i}")
        await asyncio.sleep(0.5)
        restartable.kill()  # mid-flow: drafts and applies are running
        await asyncio.sleep(2)
        restartable.start()
        for i in range(TASKS // 2, TASKS):
            await send(own_runtime, f"email client{i}@example.com about invoice {i}", f"fault-ask-{i}")
        await _settle(own_runtime)
        assert all(p.poll() is None for p in started), "a worker process exited"
        assert all(children(p.pid) for p in started), "a worker lost its job process"
        stop.set()
        await approving
        sent = Counter(m["To"] for m in smtp.messages)
        assert not sent or max(sent.values()) == 1, "an email was sent twice"
        await give_the_word(own_runtime, sent)  # and every task done is one whose email arrived
        await eventually(lambda: settled(own_runtime, ("done",)), 60, "every task done after the operator's word")
    finally:
        stop.set()
        await approving
        pool.stop_all()
    sent = Counter(m["To"] for m in smtp.messages)
    assert len(sent) == TASKS and max(sent.values()) == 1


async def _settle(runtime: Runtime) -> None:
    try:
        await eventually(lambda: settled(runtime), 120, "every task to finish after the restart")
    except AssertionError:
        states = ("received", "running", "proposed", "approved", "applying", "failed")
        where = {s: await runtime.store.ids("task", s) for s in states}
        raise AssertionError(f"not settled: {where}") from None


async def _alive_workers(runtime: Runtime, n: int) -> bool:
    return len([k async for k in runtime.redis.scan_iter(match=keys.worker_alive("*"))]) == n


@pytest.mark.soak
async def test_a_job_past_its_timeout_is_interrupted_and_retried_while_other_jobs_flow(
    runtime: Runtime, workers: Workers
) -> None:
    # Long enough for the three other tasks to be drafted on a busy machine before the hung one times out.
    stuck = workers.start(DEPUTY_OFFLINE_LATENCY_MS="60000", DEPUTY_JOB_TIMEOUT_S="8")
    await eventually(lambda: _alive_workers(runtime, 1), 30, "the slow worker")
    await send(runtime, "email jane@acme.com about invoice 42", "hang-1")
    [task_id] = await runtime.store.ids("task", "received") or await runtime.store.ids("task", "running")
    await eventually(lambda: _status(runtime, task_id, "running"), 20, "the slow worker to take the task")
    first = children(stuck.pid)
    workers.start()
    for i in range(3):
        await send(runtime, f"email client{i}@example.com about invoice {i}", f"flow-{i}")
    await eventually(lambda: _proposed_others(runtime, task_id, 3), 30, "the other tasks, while one hangs")
    assert await _status(runtime, task_id, "running"), "the hung task should still be hanging"
    connection = Redis.from_url(runtime.settings.redis_url or "")
    await eventually(lambda: _retries_left(connection, f"run-{task_id}") == 2, 20, "its timeout to spend a retry")
    await eventually(lambda: children(stuck.pid) and children(stuck.pid) != first, 20, "a fresh job process")
    workers.kill9(stuck)  # the retry goes to the other worker (the slow one would hang again)
    await eventually(lambda: _status(runtime, task_id, "proposed"), 60, "the retried task to be drafted")


async def _status(runtime: Runtime, task_id: str, status: str) -> bool:
    task = await runtime.store.get_task(task_id)
    return bool(task and task.status.value == status)


async def _proposed_others(runtime: Runtime, hung: str, n: int) -> bool:
    return len(set(await runtime.store.ids("task", "proposed")) - {hung}) == n


def _retries_left(connection: Redis, job_id: str) -> int | None:
    try:
        return Job.fetch(job_id, connection=connection).retries_left
    except Exception:
        return None


@pytest.mark.soak
def test_a_job_that_ignores_its_timeout_has_its_process_killed_and_spends_its_retries(
    workers: Workers, redis_url: str
) -> None:
    worker = workers.start(DEPUTY_JOB_TIMEOUT_S="1")
    connection = Redis.from_url(redis_url)
    wait_for(lambda: connection.keys(keys.worker_alive("*")), 30, "the worker")
    job = rq_queue(connection).enqueue("tests.e2e.stuck.sleep_through_alarms", retry=Retry(max=1, interval=[1]))
    wait_for(lambda: job.get_status(refresh=True) == "failed", 60, "two killed attempts to fail the job")
    job.refresh()  # type: ignore[no-untyped-call]
    assert job.retries_left == 0, "the first kill should have spent the retry"
    assert worker.poll() is None, "the worker itself should live on"
    wait_for(lambda: children(worker.pid), 10, "a fresh job process")
