"""Keeping work moving when processes die. One sweep per deployment, under a lease in Redis: the scheduler
(`deputy scheduler`, or inside `deputy up`) holds it; a worker takes it only while no scheduler has renewed it
for a few seconds, so a deployment of bare `deputy worker`s still recovers. Each sweep reads what it needs in
a pipelined pass or two (not one record at a time) and then:

- jobs a dead worker (or a dead job process) had started go back to the front of the queue, spending none of
  their retries (RQ alone waits for a heartbeat that outlives the worker by 60 s or more, then a 10-minute
  maintenance pass, and counts the death against the job's retries); a job whose process keeps dying goes
  through RQ's failure path after a few deaths instead, so it can't crash-loop for ever;
- a job left in RQ's intermediate list (taken from the queue by a process that died, or whose answer a Redis
  restart lost, before it was registered as started) goes back to the queue;
- retries that are due are moved from RQ's scheduled registry to the queue (no separate RQ scheduler);
- the domain is reconciled: a task still `received`/`running`, or an approved proposal not yet applied,
  with no job in RQ gets its job again (a crash between commit and enqueue loses nothing);
- finished jobs' registry entries go when their hashes expire, so nothing is left behind.

Liveness: each `deputy worker` beats `deputy:worker:<name>` every second (5 s TTL); its value names the job
processes it runs (`<name>/<n>`), so a job whose process died is seen as abandoned even while its worker lives.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime

from redis import Redis
from redis.exceptions import RedisError
from rq.callbacks import execute_failure_callback
from rq.exceptions import NoSuchJobError
from rq.executions import Execution
from rq.job import Job
from rq.queue import Queue
from rq.serializers import JSONSerializer
from rq.timeouts import UnixSignalDeathPenalty
from rq.worker import SimpleWorker

from agents.jobs import APPLY, RUN
from agents.queue import apply_job_id, enqueue, rq_queue, run_job_id
from agents.sweep import Snapshot, read_snapshot
from memory import keys

log = logging.getLogger("deputy.maintenance")
BEAT_SECONDS = 1.0
ALIVE_TTL = 5
LEASE = f"{keys.PREFIX}:lock:maintenance"
SCHEDULER_LEASE_MS = 5000
"""A scheduler renews the lease every second; workers take over this long after its last renewal."""
WORKER_LEASE_MS = 2500
FREE_DEATHS = 5
"""A job requeued this many times because its process died fails through RQ's retries after that."""
STRANDED_S = 5.0

# KEYS: lease. ARGV: me, ttl ms, 1 if a scheduler (it takes the lease over from a worker). Returns 1 if held.
TAKE_LEASE = """
local holder = redis.call('GET', KEYS[1])
if holder == ARGV[1] or not holder or (ARGV[3] == '1' and string.sub(holder, 1, 7) == 'worker:') then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
end
return 0
"""


def process_name(worker: str, n: int) -> str:
    """The RQ worker name of a worker's n-th job process."""
    return f"{worker}/{n}"


def is_alive(name: str, beats: dict[str, str | None]) -> bool:
    """`beats`: liveness values by worker. A job process is alive while its worker lists it."""
    worker, slash, _ = name.rpartition("/")
    if not slash:
        return beats.get(name) is not None
    return name in (beats.get(worker) or "").split(",")


class Sweeper:
    """The sweep and its memory between ticks (since when Redis answered, jobs seen stranded)."""

    def __init__(self, connection: Redis, me: str, *, scheduler: bool) -> None:
        self.connection, self.me, self.scheduler = connection, me, scheduler
        self.queue = rq_queue(connection)
        self.up_since: float | None = 0.0
        """Since when this process has reached Redis without an error (None: it has just failed)."""
        self.stranded: dict[str, float] = {}

    def tick(self) -> None:
        """Sweep if this process holds the lease; a Redis error ends the tick (and restarts the clock)."""
        try:
            held = self._lease()
            self.up_since = time.monotonic() if self.up_since is None else self.up_since
            if held:
                self.sweep(read_snapshot(self.connection, self.queue))
        except RedisError as err:
            self.up_since = None
            log.warning("maintenance sweep skipped: %s", err)

    def beats_are_current(self, snap: Snapshot) -> bool:
        """A missing beat means a dead worker only once every live worker has had time to beat: not right after
        Redis restarted (the keys expired while it was down), nor after this process lost Redis for a while."""
        steady = self.up_since is not None and time.monotonic() - self.up_since >= ALIVE_TTL
        return steady and snap.redis_uptime_s >= ALIVE_TTL

    def _lease(self) -> bool:
        ttl = SCHEDULER_LEASE_MS if self.scheduler else WORKER_LEASE_MS
        me = f"{'scheduler' if self.scheduler else 'worker'}:{self.me}"
        return bool(self.connection.eval(TAKE_LEASE, 1, LEASE, me, ttl, int(self.scheduler)))

    def sweep(self, snap: Snapshot) -> None:
        if self.beats_are_current(snap):
            old = time.time() - ALIVE_TTL  # a job started since has a worker that may not have beaten yet
            dead = [(job, ex, w) for job, ex, w, at in snap.started if w and at < old and not is_alive(w, snap.beats)]
            requeue_started(self.connection, self.queue, dead)
        self._unstrand(snap.stranded)
        if snap.due:
            promote_due_retries(self.connection)
        reconcile(self.connection, self.queue, snap)

    def _unstrand(self, stranded: list[str]) -> None:
        now = time.monotonic()
        self.stranded = {job: self.stranded.get(job, now) for job in stranded}
        for job_id in [j for j, seen in self.stranded.items() if now - seen >= STRANDED_S]:
            exists = self.connection.exists(f"rq:job:{job_id}")  # a gone job's id only leaves the list
            log.warning("job %s was taken from the queue but never started; %s", job_id, "back" if exists else "gone")
            with self.connection.pipeline() as pipe:  # one transaction: never in neither list
                pipe.lrem(self.queue.intermediate_queue_key, 1, job_id)
                if exists:
                    pipe.lpush(self.queue.key, job_id)
                pipe.execute()
            del self.stranded[job_id]


class Maintenance(threading.Thread):
    """The scheduler's sweep, in a thread: every second, under the lease."""

    def __init__(self, connection: Redis, me: str) -> None:
        super().__init__(name="deputy-maintenance", daemon=True)
        self.sweeper = Sweeper(connection, me, scheduler=True)
        self.stopping = threading.Event()

    def run(self) -> None:
        while not self.stopping.is_set():
            try:
                self.sweeper.tick()
            except Exception:
                log.exception("maintenance tick failed")
            self.stopping.wait(BEAT_SECONDS)

    def stop(self) -> None:
        self.stopping.set()


def beat(connection: Redis, worker: str, processes: Iterable[str]) -> None:
    """One write a second: `worker` is alive and runs these job processes."""
    connection.set(keys.worker_alive(worker), ",".join(processes) or worker, ex=ALIVE_TTL)


def requeue_started(connection: Redis, queue: Queue, dead: list[tuple[str, str, str]]) -> int:
    """Put (job id, execution id, worker) of dead processes back at the front of the queue. A death is not
    the job's fault, so this spends none of the job's retries (RQ's own abandoned-job path does, and after a
    few crashes would fail an approved action for good). Jobs are idempotent, so a re-run is always safe."""
    requeued = 0
    for job_id, execution_id, worker in dead:
        requeued += requeue_one(connection, queue, job_id, execution_id, worker)
    return requeued


def requeue_one(connection: Redis, queue: Queue, job_id: str, execution_id: str, worker: str) -> int:
    entry = f"{job_id}:{execution_id}"
    try:
        job = Job.fetch(job_id, connection=connection, serializer=JSONSerializer)
    except NoSuchJobError:
        connection.zrem(queue.started_job_registry.key, entry)
        return 0
    deaths = int(job.meta.get("deaths", 0)) + 1
    if deaths > FREE_DEATHS:
        fail_attempt(queue, job, execution_id, worker, f"its process died {deaths} times while running it")
        return 0
    log.warning("job %s was running on dead worker %s; putting it back in the queue", job_id, worker)
    # Enqueue first, then drop the stale entry: a crash in between runs the (idempotent) job twice at worst,
    # never loses it. (RQ's enqueue WATCHes keys itself, so the two can't share a pipeline.)
    job.meta["deaths"] = deaths
    job.started_at = job.ended_at = None
    queue.enqueue_job(job, at_front=True)
    with connection.pipeline() as pipe:
        Execution(execution_id, job_id, connection, worker).delete(job, pipe)
        pipe.zrem(queue.started_job_registry.key, entry)
        pipe.execute()
    return 1


def fail_attempt(queue: Queue, job: Job, execution_id: str, worker: str, reason: str) -> None:
    """The job's attempt failed on `worker` (a process that is gone): RQ's own failure path, as if the process
    had raised — the failure callback, then a retry if one is left, else the failed registry."""
    shell = SimpleWorker([queue], name=worker, connection=queue.connection, prepare_for_work=False)
    execution = Execution(execution_id, job.id, queue.connection, worker)
    job.ended_at = datetime.now(UTC)
    error = RuntimeError(reason)
    try:
        execute_failure_callback(job, UnixSignalDeathPenalty, RuntimeError, error, None)
    except Exception:
        log.exception("the failure callback of job %s failed", job.id)
    shell.handle_job_failure(job, queue, exc_string=f"RuntimeError: {reason}", execution=execution)
    log.warning("job %s failed on %s: %s", job.id, worker, reason)


def promote_due_retries(connection: Redis) -> None:
    """RQ's scheduled registry keeps whole seconds (truncated), so RQ's own pass can move a job up to a second
    early — an undo hold would then find its window still open and wait for the sweep. A job moves here
    once the whole second of its score has passed."""
    queue = rq_queue(connection)
    registry = queue.scheduled_job_registry
    due = registry.get_jobs_to_schedule(due_before())
    jobs = [j for j in Job.fetch_many(due, connection=connection, serializer=JSONSerializer) if j is not None]
    with connection.pipeline() as pipe:
        for job in jobs:
            queue._enqueue_job(job, pipeline=pipe, at_front=bool(job.enqueue_at_front))
        for job_id in due:
            registry.remove(job_id, pipeline=pipe)
        pipe.execute()


def due_before() -> int:
    """Scores up to this one are wholly in the past."""
    return int(time.time()) - 1


def reconcile(connection: Redis, queue: Queue, snap: Snapshot) -> int:
    enqueued = 0
    for task_id in snap.tasks_without_job:
        enqueued += enqueue(queue, RUN, task_id, run_job_id(task_id))
    for proposal_id, due in snap.applies_due.items():
        enqueued += enqueue(queue, APPLY, proposal_id, apply_job_id(proposal_id), due)
    if enqueued:
        log.warning("reconciled %d task(s) that had no job", enqueued)
    return enqueued


def sweep_once(connection: Redis, me: str, *, wait_for_beats: bool = True) -> None:
    """One sweep now (a burst worker before it starts); dead workers' jobs only once their beats could have
    come (`wait_for_beats`: a beat's TTL after Redis first answered)."""
    sweeper = Sweeper(connection, me, scheduler=False)
    sweeper.up_since = time.monotonic() if wait_for_beats else 0.0
    sweeper.sweep(read_snapshot(connection, sweeper.queue))


def requeue_dead_process(connection: Redis, queue: Queue, name: str, failed: Callable[[str], str | None]) -> None:
    """A job process `name` is gone: each job it had started fails (when `failed(job_id)` gives a reason, such
    as its timeout) or goes back to the queue for free."""
    snap = read_snapshot(connection, queue)
    for job_id, execution_id, worker, _ in snap.started:
        if worker != name:
            continue
        reason = failed(job_id)
        if reason is None:
            requeue_one(connection, queue, job_id, execution_id, worker)
            continue
        try:
            job = Job.fetch(job_id, connection=connection, serializer=JSONSerializer)
        except NoSuchJobError:
            continue
        fail_attempt(queue, job, execution_id, worker, reason)
