"""Asking a job id to run again (Send again, Run the rest, a resumed budget pause) on a real Redis: right after
a run that ended in the operator's hands, that run's job may still be finishing; the new run is queued once it
has, not refused as a duplicate (which left it to the sweep a minute later)."""

from __future__ import annotations

import asyncio
import threading

from redis import Redis
from rq.job import Job, JobStatus
from rq.serializers import JSONSerializer

from agents.queue import RQJobQueue, apply_job_id


def finishing(connection: Redis, job_id: str, after_s: float) -> threading.Timer:
    """The job's worker marks it finished a moment from now (as RQ does once the job function returned)."""
    job = Job.fetch(job_id, connection=connection, serializer=JSONSerializer)
    job.set_status(JobStatus.STARTED)
    connection.lrem(f"rq:queue:{job.origin}", 1, job_id)
    timer = threading.Timer(after_s, lambda: job.set_status(JobStatus.FINISHED))
    timer.start()
    return timer


async def test_again_while_the_last_run_is_finishing_queues_a_new_run(redis_url: str) -> None:
    connection = Redis.from_url(redis_url)
    queue = RQJobQueue(connection)
    await queue.enqueue_apply("p1")
    timer = finishing(connection, apply_job_id("p1"), 0.3)
    await queue.enqueue_apply("p1", again=True)
    timer.join()
    job = Job.fetch(apply_job_id("p1"), connection=connection, serializer=JSONSerializer)
    assert job.get_status() is JobStatus.QUEUED
    assert queue.queue.job_ids == [apply_job_id("p1")]


async def test_again_leaves_a_queued_run_alone(redis_url: str) -> None:
    connection = Redis.from_url(redis_url)
    queue = RQJobQueue(connection)
    await queue.enqueue_apply("p2")
    await asyncio.wait_for(queue.enqueue_apply("p2", again=True), 1)  # no wait: it has not begun
    assert queue.queue.job_ids == [apply_job_id("p2")]
