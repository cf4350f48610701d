"""The warm job process: RQ's in-process `SimpleWorker`, forked once from the warmed-up `deputy worker` parent,
runs many jobs one at a time on one event loop with one runtime, so no job pays for a fork, imports or a new
Redis connection. Isolation stays with the process: a job that crashes it takes only it down (the parent
starts another); a job past its timeout is interrupted (SIGALRM, RQ's own death penalty) and the process is
replaced, and if it can't be interrupted the parent kills it (bot/worker.py). The process is recycled
after DEPUTY_WORKER_MAX_JOBS jobs or past DEPUTY_WORKER_MAX_MB, and it rides out Redis faults: RQ's client
retries with backoff, and when RQ's loop quits on a Redis error anyway the loop below starts it again.

What it asks of RQ: the job functions are plain functions that run their coroutine on the process's loop
(agents/runtime.py), so no custom job class; recycling after a timed-out job is an exception handler (RQ's
documented hook); the rest are five methods RQ calls on its own worker classes, each kept for one reason:
`execute_job` (RQ's step for how a worker class runs a job; `SimpleWorker` overrides it too) for the job
timeout, the parent's deadline and recycling; `increment_successful_job_count`, the one place RQ hands over the
transaction that marks a job finished, for the latency histogram at no round trip; `heartbeat` and `set_state`
to save round trips and fsyncs per job that change nothing (bench/trips.py counts them); `bootstrap`, where RQ
starts its pubsub thread, so that thread starts with the stop signals blocked and a stop reaches the main
thread. Gone: a job class (`_execute`), `perform_job`, `handle_exception`, `handle_job_success` and
`register_birth` (a restart after a Redis fault now clears the old registration itself)."""

from __future__ import annotations

import contextlib
import logging
import os
import resource
import signal
import time
from dataclasses import dataclass
from typing import Any

from redis.exceptions import RedisError
from rq.exceptions import StopRequested
from rq.job import Job
from rq.serializers import JSONSerializer
from rq.timeouts import JobTimeoutException
from rq.worker import SimpleWorker

from agents import runtime
from agents.jobs import kind_of
from agents.maintenance import requeue_dead_process
from agents.queue import JOB_TIMEOUT, rq_queue
from memory.connections import sync_redis
from memory.embedded import die_with_parent
from memory.metrics import observe_on

log = logging.getLogger("deputy.worker")
HARD_GRACE_S = 5.0
"""The parent kills a job process this long after its job's timeout, if the job could not be interrupted."""
HEARTBEAT_S = 5.0
"""RQ beats the worker's hash (three commands) several times per job; every few seconds is plenty for a TTL
of minutes."""
FAULT_BACKOFF_S = (0.5, 30.0)
WORKER_TTL_S = 35
"""RQ's blocking dequeue waits this less 15 s: an idle process wakes every 20 s at the least (RQ's default is
405 s), so nothing it should notice waits long."""


@dataclass(frozen=True)
class Limits:
    job_timeout_s: int = JOB_TIMEOUT
    max_jobs: int = 1000
    max_mb: int = 1024


class Deadline:
    """When the running job's process should be killed (0 when idle), in memory the parent can read."""

    def __init__(self, shared: Any) -> None:
        self.shared = shared

    def set(self, value: float) -> None:
        self.shared.value = value

    def overdue(self) -> bool:
        return bool(self.shared.value) and time.time() > self.shared.value


class WarmWorker(SimpleWorker):
    """RQ's `SimpleWorker` with Deputy's timeouts, recycling and latency histogram. Each override below is a
    method RQ itself calls on its worker classes; why each one is needed is in its docstring."""

    def __init__(self, *args: Any, deadline: Deadline | None = None, limits: Limits = Limits(), **kw: Any) -> None:
        super().__init__(*args, **{**kw, "exception_handlers": [self._recycle_after_timeout]})
        self.deadline, self.limits = deadline, limits
        self.done, self.recycle = 0, False
        self._beaten = 0.0
        self._finishing: Job | None = None

    def execute_job(self, job: Job, queue: Any) -> None:
        """RQ's step for how a worker class runs a job (`SimpleWorker` overrides it too): here under this
        worker's timeout, with the parent told when to give up on the job, and the process recycled after it
        when it has done enough."""
        job.timeout = min(job.timeout or JOB_TIMEOUT, self.limits.job_timeout_s)
        if self.deadline:
            self.deadline.set(time.time() + job.timeout + HARD_GRACE_S)
        self._finishing = job
        try:
            super().execute_job(job, queue)
        finally:
            self._finishing = None
            if self.deadline:
                self.deadline.set(0.0)
        self._after_job()

    def _after_job(self) -> None:
        """Past its job count or memory the process is replaced after this job: RQ's loop stops here, as it
        does for a stop signal during a job."""
        self.done += 1
        if self.done >= self.limits.max_jobs or resident_mb() > self.limits.max_mb:
            self.recycle = True
        if self.recycle:
            raise StopRequested

    def _recycle_after_timeout(self, job: Job, kind: type[BaseException] | None, *rest: Any) -> None:
        """An exception handler (RQ's documented hook): a job interrupted at its timeout may have left tasks on
        the loop, so this process is not reused. Returns None: RQ's other handlers still run."""
        if kind is not None and issubclass(kind, JobTimeoutException):
            self.recycle = True

    def increment_successful_job_count(self, pipeline: Any = None) -> None:
        """RQ calls this inside the transaction that marks the job finished: the latency histogram rides it
        (no round trip or fsync of its own; a success callback would cost both)."""
        super().increment_successful_job_count(pipeline)
        job = self._finishing
        if pipeline is not None and job is not None and job.enqueued_at is not None:
            kind = kind_of(job.func_name)
            observe_on(pipeline, kind.latency if kind else "run", time.time() - job.enqueued_at.timestamp())

    def heartbeat(self, timeout: int | None = None, pipeline: Any = None) -> None:
        """In one round trip, and not more often than every few seconds outside RQ's own transactions (RQ beats
        several times per job: bench/trips.py counts the round trips this saves)."""
        if pipeline is not None or timeout is not None:
            return super().heartbeat(timeout, pipeline)  # type: ignore[no-any-return]
        if time.monotonic() - self._beaten < HEARTBEAT_S:
            return None
        with self.connection.pipeline(transaction=False) as pipe:
            super().heartbeat(None, pipe)
            pipe.execute()
        self._beaten = time.monotonic()
        return None

    def set_state(self, state: str, pipeline: Any = None) -> None:
        """RQ sets `idle` twice between jobs; the second write (a round trip and an fsync) changes nothing."""
        if pipeline is None and state == self._state:
            return
        super().set_state(state, pipeline)

    def bootstrap(self, *args: Any, **kw: Any) -> None:
        """RQ starts its pubsub thread here. A stop signal must reach the main thread, blocked in its dequeue:
        one taken by another thread would leave it there, so that thread is started with the signals blocked."""
        signal.pthread_sigmask(signal.SIG_BLOCK, runtime.STOP_SIGNALS)
        try:
            super().bootstrap(*args, **kw)
        finally:
            signal.pthread_sigmask(signal.SIG_UNBLOCK, runtime.STOP_SIGNALS)


def resident_mb() -> float:
    try:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except OSError:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def serve(name: str, url: str, shared: Any, limits: Limits, burst: bool) -> None:
    """The process's body (a forked child of `deputy worker`)."""
    for sig in (signal.SIGINT, signal.SIGTERM):  # until RQ installs its own: a stop before the first job
        signal.signal(sig, lambda *_: os._exit(0))
    signal.pthread_sigmask(signal.SIG_UNBLOCK, runtime.STOP_SIGNALS)  # blocked across the fork
    parent = os.getppid()
    die_with_parent(signal.SIGKILL)
    if os.getppid() != parent:  # the worker died before the line above took effect
        os._exit(1)
    runtime.started()
    queue = rq_queue(sync_redis(url))
    worker = WarmWorker(
        [queue], name=name, deadline=Deadline(shared), limits=limits, serializer=JSONSerializer, worker_ttl=WORKER_TTL_S
    )
    ride_out(worker, burst)


def ride_out(worker: WarmWorker, burst: bool) -> None:
    """RQ's loop, started again after a Redis fault (with backoff) instead of quitting; the jobs this process
    had started when the fault hit go back to the queue first (nothing else runs them). A stop asked for meanwhile
    ends it: its parent is stopping — perhaps because `deputy up` died, and Redis with it, so waiting for Redis
    would keep this process (and its parent, which waits for it) running for ever. What it had started is handed
    back by the sweep, which sees the process gone."""
    delay = FAULT_BACKOFF_S[0]
    with contextlib.suppress(StopRequested):  # RQ's stop signal handler, outside RQ's loop
        while True:
            try:
                worker.work(burst=burst, logging_level="WARNING", with_scheduler=False)
                if burst or worker.recycle or _stopping(worker):
                    return
            except RedisError as err:
                log.warning("worker %s: Redis fault (%s)", worker.name, err)
            while not _stopping(worker):
                log.warning("worker %s: RQ's loop stopped; starting it again in %.1f s", worker.name, delay)
                time.sleep(delay)
                delay = min(delay * 2, FAULT_BACKOFF_S[1])
                if _reset(worker):
                    break
            if _stopping(worker):
                log.warning("worker %s: stopping without Redis", worker.name)
                return


def _stopping(worker: WarmWorker) -> bool:
    """A stop was asked for (RQ notes when, even where it could not tell Redis)."""
    return worker._shutdown_requested_date is not None


def _reset(worker: WarmWorker) -> bool:
    """Ready to start RQ's loop again: this process's jobs handed back and its old registration gone (RQ
    refuses to register a name that is still there). False while Redis is still away."""
    try:
        worker.unsubscribe()  # type: ignore[no-untyped-call]
    except Exception:
        log.debug("unsubscribe after a fault failed", exc_info=True)
    try:
        queue = worker.queues[0]
        requeue_dead_process(worker.connection, queue, worker.name, lambda job_id: None)
        worker.connection.delete(worker.key)
    except RedisError as err:
        log.warning("could not hand back this process's jobs yet: %s", err)
        return False
    return True
