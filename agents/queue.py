"""The `JobQueue` port on RQ: deterministic job ids, JSON arguments (ids only), retries with backoff and a
failure callback. RQ's API is synchronous, so calls run in a thread."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from redis import Redis
from rq import Callback, Queue, Retry
from rq.exceptions import DuplicateJobError, NoSuchJobError
from rq.job import Job, JobStatus
from rq.serializers import JSONSerializer

from agents.jobs import APPLY, REVISE, RUN, JobKind, on_failure

QUEUE = "deputy"
RETRY_INTERVALS = (2, 10, 30)
JOB_TIMEOUT = 600
RESULT_TTL = 60  # a finished job's hash expires rather than being deleted: cheaper for RQ, same for us
ENDING_S = 5.0
"""How long asking a job id again waits for its running job to end."""
FAILURE_TTL = int(timedelta(days=7).total_seconds())


def run_job_id(task_id: str) -> str:
    return RUN.job_id(task_id)


def apply_job_id(proposal_id: str) -> str:
    return APPLY.job_id(proposal_id)


def rq_queue(connection: Redis) -> Queue:
    return Queue(QUEUE, connection=connection, serializer=JSONSerializer)


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
    options: dict[str, Any] = {
        "job_id": job_id,
        "unique": True,
        "retry": Retry(max=len(retries), interval=list(retries)) if retries else None,
        "on_failure": Callback(on_failure),
        "result_ttl": RESULT_TTL,
        "failure_ttl": FAILURE_TTL,
        "job_timeout": JOB_TIMEOUT,
    }
    try:
        if at is not None and at > datetime.now(UTC):
            queue.enqueue_at(at, kind.func_name, arg, **options)
        else:
            queue.enqueue(kind.func_name, arg, **options)
    except DuplicateJobError:
        return False
    return True


class RQJobQueue:
    def __init__(self, connection: Redis, retries: Sequence[int] = RETRY_INTERVALS) -> None:
        """`retries`: the waits before each retry of a failed job (DEPUTY_JOB_RETRY_S)."""
        self.queue, self.retries = rq_queue(connection), tuple(retries)

    async def enqueue_run(self, task_id: str, *, again: bool = False) -> None:
        await asyncio.to_thread(self._run, task_id, again)

    def _run(self, task_id: str, again: bool) -> None:
        job_id = run_job_id(task_id)
        if again:  # a paused task's first run finished; its job id is kept until the result expires
            self._drop_finished(job_id)
        enqueue(self.queue, RUN, task_id, job_id, retries=self.retries)

    async def enqueue_apply(self, proposal_id: str, at: datetime | None = None, *, again: bool = False) -> None:
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
