"""The `JobQueue` port on RQ: deterministic job ids, JSON arguments (ids only), retries with backoff and a
failure callback. A job to run now is built by RQ in memory and stored with one script on the async
connection (`ENQUEUE`): one round trip and one fsync, and no thread waiting on RQ's synchronous pipeline
(issue 30: the web process's ack tail). Scheduled jobs and ids asked again use RQ's own API in a thread."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from redis import Redis
from redis.asyncio import Redis as AsyncRedis
from rq import Callback, Queue, Retry
from rq.exceptions import DuplicateJobError, NoSuchJobError
from rq.job import Job, JobStatus
from rq.scripts import _build_hset_args
from rq.serializers import JSONSerializer

from agents.jobs import APPLY, REVISE, RUN, JobKind, on_failure

QUEUE = "deputy"
RETRY_INTERVALS = (2, 10, 30)
JOB_TIMEOUT = 600
RESULT_TTL = 60  # a finished job's hash expires rather than being deleted: cheaper for RQ, same for us
ENDING_S = 5.0
"""How long asking a job id again waits for its running job to end."""
FAILURE_TTL = int(timedelta(days=7).total_seconds())

# RQ's unique enqueue (rq/scripts.py UNIQUE_ENQUEUE_SCRIPT) with the queue's registration (`SADD rq:queues`, a
# pipeline of its own in RQ) folded in. KEYS: the job's hash, the queue, RQ's set of queues. ARGV: the job id,
# its ttl (-1: none), then the hash's field/value pairs as RQ writes them. 0: a job with that id exists.
ENQUEUE = """
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], unpack(ARGV, 3))
local ttl = tonumber(ARGV[2])
if ttl and ttl > 0 then redis.call('EXPIRE', KEYS[1], ttl) end
redis.call('RPUSH', KEYS[2], ARGV[1])
redis.call('SADD', KEYS[3], KEYS[2])
return 1
"""


def run_job_id(task_id: str) -> str:
    return RUN.job_id(task_id)


def apply_job_id(proposal_id: str) -> str:
    return APPLY.job_id(proposal_id)


def rq_queue(connection: Redis) -> Queue:
    return Queue(QUEUE, connection=connection, serializer=JSONSerializer)


def options(job_id: str, retries: Sequence[int]) -> dict[str, Any]:
    """What every Deputy job is given, however it is enqueued."""
    return {
        "job_id": job_id,
        "retry": Retry(max=len(retries), interval=list(retries)) if retries else None,
        "on_failure": Callback(on_failure),
        "result_ttl": RESULT_TTL,
        "failure_ttl": FAILURE_TTL,
    }


def enqueue(
    queue: Queue,
    kind: JobKind,
    arg: str,
    job_id: str,
    at: datetime | None = None,
    retries: Sequence[int] = RETRY_INTERVALS,
) -> bool:
    """False when a job with that id already exists (queued, running, scheduled or failed): nothing twice.
    With `at` in the future the job waits in RQ's scheduled registry (the maintenance sweep promotes it)."""
    given = {**options(job_id, retries), "unique": True, "job_timeout": JOB_TIMEOUT}
    try:
        if at is not None and at > datetime.now(UTC):
            queue.enqueue_at(at, kind.func_name, arg, **given)
        else:
            queue.enqueue(kind.func_name, arg, **given)
    except DuplicateJobError:
        return False
    return True


class RQJobQueue:
    def __init__(
        self, connection: Redis, retries: Sequence[int] = RETRY_INTERVALS, aio: AsyncRedis | None = None
    ) -> None:
        """`retries`: the waits before each retry of a failed job (DEPUTY_JOB_RETRY_S). `aio`: the process's async
        connection, for jobs to run now (without it, every enqueue goes through RQ in a thread)."""
        self.queue, self.retries, self.aio = rq_queue(connection), tuple(retries), aio
        self._script = aio.register_script(ENQUEUE) if aio is not None else None

    async def enqueue_run(self, task_id: str, *, again: bool = False) -> None:
        if not again and self._script is not None:
            await self._now(RUN, task_id, run_job_id(task_id))
            return
        await asyncio.to_thread(self._run, task_id, again)

    async def _now(self, kind: JobKind, arg: str, job_id: str) -> bool:
        """RQ's unique enqueue on the event loop: RQ builds the job (its fields exactly as `queue.enqueue` would
        write them), one script stores it. False: a job with that id exists (nothing twice)."""
        assert self._script is not None
        if not self.queue.redis_server_version:  # RQ writes it into the job; asked once per process
            await asyncio.to_thread(self.queue.get_redis_server_version)
        given = {**options(job_id, self.retries), "timeout": JOB_TIMEOUT}
        job = self.queue.create_job(kind.func_name, args=(arg,), **given)
        self.queue._prepare_for_queue(job)
        ttl = job.ttl if job.ttl is not None else -1
        keys = [job.key, self.queue.key, self.queue.redis_queues_keys]
        return bool(await self._script(keys=keys, args=[job.id, ttl, *_build_hset_args(job)]))  # type: ignore[no-untyped-call]

    def _run(self, task_id: str, again: bool) -> None:
        job_id = run_job_id(task_id)
        if again:  # a paused task's first run finished; its job id is kept until the result expires
            self._drop_finished(job_id)
        enqueue(self.queue, RUN, task_id, job_id, retries=self.retries)

    async def enqueue_apply(self, proposal_id: str, at: datetime | None = None, *, again: bool = False) -> None:
        later = at is not None and at > datetime.now(UTC)
        if not again and not later and self._script is not None:
            await self._now(APPLY, proposal_id, apply_job_id(proposal_id))
            return
        await asyncio.to_thread(self._apply, proposal_id, at, again)

    def _apply(self, proposal_id: str, at: datetime | None, again: bool) -> None:
        job_id = apply_job_id(proposal_id)
        if again:  # the operator's word after an apply that finished (Send again, Run the rest)
            self._drop_finished(job_id)
        enqueue(self.queue, APPLY, proposal_id, job_id, at, self.retries)

    async def enqueue_revise(self, proposal_id: str, version: int) -> None:
        """One job per proposal and version (`revise-<id>-<version>`); a finished one — a refused revision — does
        not block asking again."""
        job_id = REVISE.job_id(proposal_id, version)

        def put() -> None:
            self._drop_finished(job_id)
            enqueue(self.queue, REVISE, proposal_id, job_id, retries=self.retries)

        await asyncio.to_thread(put)

    def _drop_finished(self, job_id: str) -> None:
        """A finished or failed job keeps its id until it expires: dropped, so the id can run again. A queued
        one is left to run. A running one is waited for, up to ENDING_S: asked again right after a run that
        ended in the operator's hands, that run's job is only finishing its bookkeeping — and a duplicate id
        would leave the request to the sweep once the finished job expired, a minute later."""
        deadline = time.monotonic() + ENDING_S
        while True:
            try:
                job = Job.fetch(job_id, connection=self.queue.connection, serializer=JSONSerializer)
            except NoSuchJobError:
                return
            status = job.get_status()
            if status in (JobStatus.FINISHED, JobStatus.FAILED):
                job.delete()
                return
            if status is not JobStatus.STARTED or time.monotonic() > deadline:
                return
            time.sleep(0.05)
