"""A job to run now is stored by one script on the async connection (no thread, one fsync): RQ builds it, so
its hash is what RQ's own `enqueue` writes, and a second enqueue of the same id changes nothing (issue 30; the
e2e flows run these jobs through real workers). On a real Redis."""

from __future__ import annotations

from redis import Redis
from redis.asyncio import Redis as AsyncRedis
from rq.job import Job, JobStatus
from rq.serializers import JSONSerializer

from agents.jobs import RUN
from agents.queue import RQJobQueue, enqueue, rq_queue, run_job_id

MOMENTS = {b"created_at", b"enqueued_at", b"data", b"description"}  # the time, and the task id inside


async def test_one_script_writes_the_job_rq_would(redis_url: str) -> None:
    connection, aio = Redis.from_url(redis_url), AsyncRedis.from_url(redis_url)
    queue = RQJobQueue(connection, aio=aio)
    await queue.enqueue_run("tScript1")
    await queue.enqueue_run("tScript1")  # the same id again: nothing twice
    enqueue(rq_queue(connection), RUN, "tScript2", run_job_id("tScript2"))
    ours, rqs = (connection.hgetall(f"rq:job:{run_job_id(t)}") for t in ("tScript1", "tScript2"))
    assert {k: v for k, v in ours.items() if k not in MOMENTS} == {k: v for k, v in rqs.items() if k not in MOMENTS}
    assert queue.queue.job_ids[-2:] == [run_job_id("tScript1"), run_job_id("tScript2")]
    assert connection.sismember("rq:queues", "rq:queue:deputy")
    job = Job.fetch(run_job_id("tScript1"), connection=connection, serializer=JSONSerializer)
    assert job.get_status() is JobStatus.QUEUED and job.args == ["tScript1"] and job.retries_left == 3
    await aio.aclose()
