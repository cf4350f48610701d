"""The maintenance sweep on a real Redis: dead processes' jobs go back to the queue without spending retries,
live ones are left alone, a job stranded in RQ's intermediate list goes back, the lease goes to the scheduler
before any worker, finished jobs leave nothing behind after their TTL, and the embedded Redis rewrites its
AOF by itself."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from redis import Redis
from rq import Retry, SimpleWorker
from rq.executions import Execution
from rq.job import Job, JobStatus
from rq.serializers import JSONSerializer

from agents import maintenance
from agents.maintenance import LEASE, Sweeper, beat, process_name
from agents.queue import rq_queue
from agents.sweep import read_snapshot
from memory.embedded import EmbeddedRedis


@pytest.fixture
def connection(redis_url: str) -> Redis:
    return Redis.from_url(redis_url)


def started_on(connection: Redis, worker: str) -> Job:
    """A job as RQ leaves it when the process running it dies: started, with an execution on `worker`."""
    queue = rq_queue(connection)
    job = queue.enqueue("bench.noop.noop", retry=Retry(max=3, interval=[2, 10, 30]))
    connection.lrem(queue.key, 1, job.id)
    with connection.pipeline() as pipe:
        Execution.create(job, 600, pipe, worker_name=worker)
        job.set_status(JobStatus.STARTED, pipeline=pipe)
        pipe.execute()
    return job


def sweep(connection: Redis) -> None:
    sweeper = Sweeper(connection, "test", scheduler=True)
    sweeper.sweep(read_snapshot(connection, sweeper.queue))


def test_dead_processes_jobs_are_requeued_free_and_live_ones_left(
    connection: Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    beat(connection, "w1", [process_name("w1", 2)])  # w1 lives and runs its second job process
    monkeypatch.setattr(maintenance, "ALIVE_TTL", 0)  # the session Redis may have started less than a TTL ago
    dead_process = started_on(connection, process_name("w1", 1))
    live = started_on(connection, process_name("w1", 2))
    dead_worker = started_on(connection, process_name("w9", 1))
    sweep(connection)
    queued = rq_queue(connection).job_ids
    assert set(queued) == {dead_process.id, dead_worker.id}
    for job in (dead_process, dead_worker):
        job.refresh()  # type: ignore[no-untyped-call]
        assert job.retries_left == 3 and job.meta["deaths"] == 1
    assert live.get_status(refresh=True) == JobStatus.STARTED


def test_a_job_stranded_in_the_intermediate_list_goes_back(connection: Redis, monkeypatch: pytest.MonkeyPatch) -> None:
    queue = rq_queue(connection)
    job = queue.enqueue("bench.noop.noop")
    connection.lmove(queue.key, queue.intermediate_queue_key)  # taken, and the taker died before registering it
    monkeypatch.setattr(maintenance, "STRANDED_S", 0.0)
    sweeper = Sweeper(connection, "test", scheduler=True)
    sweeper.sweep(read_snapshot(connection, queue))  # first seen
    sweeper.sweep(read_snapshot(connection, queue))
    assert queue.job_ids == [job.id] and connection.llen(queue.intermediate_queue_key) == 0


def test_the_scheduler_holds_the_lease_and_workers_only_stand_in(connection: Redis) -> None:
    worker, scheduler = Sweeper(connection, "w1", scheduler=False), Sweeper(connection, "s1", scheduler=True)
    assert worker._lease() and worker._lease()  # no scheduler: the worker sweeps, and keeps the lease
    assert scheduler._lease()  # a scheduler takes it over at once
    assert not worker._lease() and scheduler._lease()
    assert connection.get(LEASE) == b"scheduler:s1"


def test_finished_jobs_leave_nothing_behind_after_their_ttl(connection: Redis) -> None:
    queue = rq_queue(connection)
    job = queue.enqueue("bench.noop.noop", result_ttl=1)
    SimpleWorker([queue], connection=connection, serializer=JSONSerializer).work(burst=True, logging_level="ERROR")
    time.sleep(1.5)
    read_snapshot(connection, queue)
    assert not [k for k in connection.keys("rq:*") if job.id.encode() in k]
    assert connection.zcard(queue.finished_job_registry.key) == 0


def test_the_embedded_redis_rewrites_its_aof_by_itself(tmp_path: Path) -> None:
    server = EmbeddedRedis(tmp_path)
    with Redis.from_url(server.start()) as client:
        try:
            config = client.config_get("auto-aof-rewrite-*")
            assert config == {"auto-aof-rewrite-percentage": "100", "auto-aof-rewrite-min-size": "16777216"}
            assert client.config_get("appendfsync") == {"appendfsync": "always"}
        finally:
            server.stop()
