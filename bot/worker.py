"""`deputy worker`: a parent that imports and warms everything once, then supervises a warm job process
(agents/warm.py) forked from it — RQ's `WorkerPool` with one process. The parent runs no job: every second it
beats its liveness key, kills a job process whose job is past its timeout and could not be interrupted,
starts a new process when one ends (at once after a recycle, with backoff after crashes), and hands a dead
process's jobs back: free of retries when the process died (kill -9, out of memory), through RQ's retries
when it was killed for its timeout. It sweeps (agents/maintenance.py) only while no scheduler holds the lease."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import multiprocessing
import os
import signal
import socket
import time

from redis import Redis
from redis.exceptions import RedisError
from rq.serializers import JSONSerializer
from rq.worker_pool import WorkerData, WorkerPool

from agents import runtime
from agents.maintenance import Sweeper, beat, process_name, requeue_dead_process, sweep_once
from agents.queue import QUEUE, rq_queue
from agents.warm import Deadline, Limits, WarmWorker, serve
from bot.wiring import build_runtime, preload_adapters, preload_models, redis_url
from config.settings import Settings
from memory import keys
from memory.connections import sync_redis
from memory.deployed import publish

log = logging.getLogger("deputy.worker")
FORK = multiprocessing.get_context("fork")
RESTART_BACKOFF_S = (1.0, 30.0)
STABLE_S = 60.0
"""A job process that lived this long before it died starts the backoff afresh."""
STOP_SIGNALS = {signal.SIGINT, signal.SIGTERM}
STOP_WITHOUT_REDIS_S = 5.0
"""Stopping, a job process is waited for until Redis has been out of reach this long, then killed."""


def preload(settings: Settings) -> None:
    """Do once, before forking, what every job process would otherwise redo: imports (the platforms' clients
    when configured), settings, and pydantic's serializers. litellm is the job process's own (`preload_models`)."""
    from connectors import email
    from memory import codec

    runtime.install(lambda: build_runtime(settings), on_start=lambda: preload_models(settings))
    preload_adapters(settings)
    codec.warm()
    email.warm()
    asyncio.run(_rehearse(settings))
    gc.collect()
    gc.freeze()  # inherited objects stay out of the children's collections: fewer copy-on-write page faults


async def _rehearse(settings: Settings) -> None:
    """Walk a job's path once (wiring, connect, read) so lazy first-use work is done before forking."""
    built = build_runtime(settings)
    try:
        await built.store.get_task("t-rehearsal")
        await built.ledger.read(count=1)
        await built.memory.migrate()  # maintenance: facts in an earlier format become records, once
        await built.memory.catch_up()  # a local recall index is loaded once here; job processes inherit it
        await publish(built.redis, {kind: c.unavailable() for kind, c in built.connectors.items()})
        warm = getattr(built.drafter, "warm", None)
        if warm is not None:
            warm()
    finally:
        await built.close()


class Supervisor(WorkerPool):
    """RQ's pool of worker processes, each a `WarmWorker`, with Deputy's liveness, timeouts and hand-back."""

    def __init__(self, connection: Redis, name: str, url: str, limits: Limits) -> None:
        super().__init__([QUEUE], connection, 1, worker_class=WarmWorker, serializer=JSONSerializer)
        self.worker, self.url, self.limits = name, url, limits
        self.sweeper = Sweeper(connection, name, scheduler=False)
        self.deadlines: dict[str, Deadline] = {}
        self.born: dict[str, float] = {}
        self.timed_out: set[str] = set()
        self.orphans: list[str] = []
        self.generation, self.next_start, self.delay = 0, 0.0, RESTART_BACKOFF_S[0]
        self.reached = time.monotonic()
        """When Redis last answered this process."""

    def start_worker(
        self, count: int | None = None, burst: bool = True, _sleep: float = 0, logging_level: str = "WARNING"
    ) -> None:
        if time.monotonic() < self.next_start:
            return
        self.generation += 1
        name = process_name(self.worker, self.generation)
        deadline = Deadline(FORK.RawValue("d", 0.0))
        process = FORK.Process(target=serve, args=(name, self.url, deadline.shared, self.limits, burst), name=name)
        signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)  # a stop arriving now reaches the new process too
        try:
            process.start()
            self.worker_dict[name] = WorkerData(name=name, pid=process.pid or 0, process=process)
            self.deadlines[name], self.born[name] = deadline, time.monotonic()
        finally:
            signal.pthread_sigmask(signal.SIG_UNBLOCK, STOP_SIGNALS)
        with contextlib.suppress(RedisError):  # listed before it takes a job, not at the next tick
            beat(self.connection, self.worker, [*self.worker_dict, *self.orphans])

    def check_workers(self, respawn: bool = True) -> None:
        self._watch()
        super().check_workers(respawn)
        self._keep()

    def all_workers_have_stopped(self) -> bool:
        """While stopping, a process finishing its job still counts as alive: keep beating for it."""
        stopped = bool(super().all_workers_have_stopped())
        self._keep(sweep=False)
        if not stopped and time.monotonic() - self.reached >= STOP_WITHOUT_REDIS_S:
            self._kill_all("stopping while Redis is out of reach")
        return stopped

    def _kill_all(self, why: str) -> None:
        """A job can't finish without Redis (it can't record what it did), and the stop may come from a `deputy up`
        that died with its Redis: waiting would keep this worker running for ever. The job processes go now; what
        they had started is handed back once Redis answers again (the sweep sees them gone)."""
        for name, data in list(self.worker_dict.items()):
            log.warning("job process %s: %s; killing it", name, why)
            with contextlib.suppress(ProcessLookupError):
                os.kill(data.pid, signal.SIGKILL)

    def _watch(self) -> None:
        """kill -9 a job process whose job ran past its timeout and the grace after it."""
        for name, data in list(self.worker_dict.items()):
            if self.deadlines[name].overdue() and name not in self.timed_out:
                log.warning("job process %s: its job is past its timeout; killing it", name)
                self.timed_out.add(name)
                os.kill(data.pid, signal.SIGKILL)

    def handle_dead_worker(self, worker_data: WorkerData) -> None:
        super().handle_dead_worker(worker_data)
        name, code = worker_data.name, worker_data.process.exitcode
        lived = time.monotonic() - self.born.pop(name, 0.0)
        self.deadlines.pop(name, None)
        if code:
            log.warning("job process %s ended (exit %s) after %.0f s; starting another", name, code, lived)
        if code and code != -signal.SIGKILL:
            self._back_off(lived)
        self.orphans.append(name)

    def _back_off(self, lived: float) -> None:
        """A process that crashed by itself may crash again at once: wait, longer each time. One that was
        killed (out of memory, an operator, the timeout above) is replaced at once."""
        self.delay = RESTART_BACKOFF_S[0] if lived >= STABLE_S else min(self.delay * 2, RESTART_BACKOFF_S[1])
        self.next_start = time.monotonic() + self.delay

    def _keep(self, *, sweep: bool = True) -> None:
        """Beat, hand back dead processes' jobs, sweep if no scheduler does; Redis faults wait for the next tick."""
        try:
            while self.orphans:  # before the beat that stops listing them, so no sweep hands them back too
                name = self.orphans[0]
                why = "killed past its job timeout" if name in self.timed_out else None
                requeue_dead_process(self.connection, rq_queue(self.connection), name, lambda _job: why)  # noqa: B023
                self.orphans.pop(0)
                self.timed_out.discard(name)
            beat(self.connection, self.worker, [*self.worker_dict, *self.orphans])
            self.reached = time.monotonic()
        except RedisError as err:
            log.warning("worker %s: Redis unavailable (%s); trying again in a second", self.worker, err)
        if sweep and not self._burst:
            self.sweeper.tick()


def limits(settings: Settings) -> Limits:
    return Limits(settings.job_timeout_s, settings.worker_max_jobs, settings.worker_max_mb)


def run_worker(settings: Settings, *, burst: bool = False) -> int:
    url = redis_url(settings)
    preload(settings.model_copy(update={"redis_url": url}))  # its jobs (and job processes) use the Redis found here
    name = f"deputy-{socket.gethostname()}-{os.getpid()}"
    connection = sync_redis(url, retries=2, timeout=5)  # a tick never waits long on a Redis that is down
    pool = Supervisor(connection, name, url, limits(settings))
    if burst:
        sweep_once(connection, name, wait_for_beats=False)
    try:
        pool.start(burst=burst, logging_level="WARNING")
    finally:
        with contextlib.suppress(RedisError):
            connection.delete(keys.worker_alive(name))
    return 0
