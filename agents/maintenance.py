"""Keeping work moving when processes die. Runs in a thread of each worker's parent process (never in a work
horse), and one worker at a time does the sweep (a Redis lock):

- a liveness key per worker, refreshed every second, expiring in 5 s: a killed worker is known dead fast;
- jobs a dead worker had started go back to the front of the queue right away, spending none of their
  retries (RQ alone waits for a heartbeat that outlives the worker by 60 s or more, then a 10-minute
  maintenance pass, and counts the death against the job's retries);
- retries that are due are moved from RQ's scheduled registry to the queue (no separate scheduler needed);
- the domain is reconciled: a task still `received`/`running`, or an approved proposal not yet applied,
  with no job in RQ gets its job again (a crash between commit and enqueue loses nothing).
"""

from __future__ import annotations

import json
import logging
import threading
from datetime import UTC, datetime

from redis import Redis
from rq.exceptions import NoSuchJobError
from rq.executions import Execution
from rq.job import Job
from rq.queue import Queue
from rq.registry import StartedJobRegistry
from rq.scheduler import RQScheduler
from rq.serializers import JSONSerializer

from agents.queue import apply_job_id, enqueue, rq_queue, run_job_id
from memory import keys

log = logging.getLogger("deputy.maintenance")
BEAT_SECONDS = 1.0
ALIVE_TTL = 5
LOCK = f"{keys.PREFIX}:lock:maintenance"


class Maintenance(threading.Thread):
    """`worker_name` beats that worker's liveness key; the scheduler runs the sweep without one."""

    def __init__(self, connection: Redis, worker_name: str | None) -> None:
        super().__init__(name="deputy-maintenance", daemon=True)
        self.connection, self.worker_name = connection, worker_name
        self.queue = rq_queue(connection)
        self.stopping = threading.Event()

    def run(self) -> None:
        while not self.stopping.is_set():
            try:
                self.tick()
            except Exception:
                log.exception("maintenance tick failed")
            self.stopping.wait(BEAT_SECONDS)

    def stop(self) -> None:
        self.stopping.set()
        if self.worker_name:
            self.connection.delete(keys.worker_alive(self.worker_name))

    def tick(self) -> None:
        if self.worker_name:
            self.connection.set(keys.worker_alive(self.worker_name), self.worker_name, ex=ALIVE_TTL)
        if self.connection.set(LOCK, self.worker_name or "scheduler", nx=True, px=int(BEAT_SECONDS * 2500)):
            self.sweep()

    def sweep(self) -> None:
        requeue_abandoned(self.connection, self.queue)
        promote_due_retries(self.connection)
        reconcile(self.connection)


def requeue_abandoned(connection: Redis, queue: Queue) -> int:
    """Put the started jobs of dead workers back at the front of the queue. A worker's death is not the job's
    fault, so this spends none of the job's retries (RQ's own abandoned-job path does, and after a few crashes
    would fail an approved action for good). Jobs are idempotent, so a re-run is always safe."""
    registry = StartedJobRegistry(queue=queue)
    requeued = 0
    for job_id, execution_id in registry.get_job_and_execution_ids(cleanup=False):
        try:
            job = Job.fetch(job_id, connection=connection, serializer=JSONSerializer)
        except NoSuchJobError:
            connection.zrem(registry.key, f"{job_id}:{execution_id}")
            continue
        worker = _worker_of(connection, job, execution_id)
        if not worker or connection.exists(keys.worker_alive(worker)):
            continue
        log.warning("job %s was running on dead worker %s; putting it back in the queue", job_id, worker)
        # Enqueue first, then drop the stale entry: a crash in between runs the (idempotent) job twice at worst,
        # never loses it. (RQ's enqueue WATCHes keys itself, so the two can't share a pipeline.)
        job.started_at = job.ended_at = None
        queue.enqueue_job(job, at_front=True)
        connection.zrem(registry.key, f"{job_id}:{execution_id}")
        requeued += 1
    return requeued


def _worker_of(connection: Redis, job: Job, execution_id: str) -> str:
    """The worker that took the job. The execution record has it from the moment the worker dequeued the job;
    the job hash only once the work horse has started, so a kill in between would otherwise go unnoticed."""
    try:
        return Execution.fetch(execution_id, job.id, connection).worker_name or job.worker_name or ""
    except Exception:
        return job.worker_name or ""


def promote_due_retries(connection: Redis) -> None:
    queue = rq_queue(connection)
    scheduler = RQScheduler([queue], connection=connection, serializer=JSONSerializer)
    scheduler.prepare_registries([queue.name])
    scheduler.enqueue_scheduled_jobs()  # type: ignore[no-untyped-call]


def reconcile(connection: Redis) -> int:
    queue, enqueued = rq_queue(connection), 0
    for status in ("received", "running"):
        for task_id in connection.smembers(keys.index("task", status)):
            task_id = _text(task_id)
            if not Job.exists(run_job_id(task_id), connection=connection):
                enqueued += enqueue(queue, "agents.jobs.run_task", task_id, run_job_id(task_id))
    for proposal_id in connection.smembers(keys.index("proposal", "approved")):
        proposal_id = _text(proposal_id)
        due = _apply_due(connection, proposal_id)
        if due is not None and not Job.exists(apply_job_id(proposal_id), connection=connection):
            enqueued += enqueue(queue, "agents.jobs.apply_proposal", proposal_id, apply_job_id(proposal_id), due)
    if enqueued:
        log.warning("reconciled %d task(s) that had no job", enqueued)
    return enqueued


def _apply_due(connection: Redis, proposal_id: str) -> datetime | None:
    """When an approved proposal should be applied (now, or the end of its undo window); None if it needn't."""
    raw = connection.hget(keys.record("proposal", proposal_id), "data")
    if raw is None:
        return None
    proposal = json.loads(raw)
    status = connection.hget(keys.record("task", proposal["task_id"]), "status")
    if _text(status or b"") not in ("approved", "applying"):
        return None
    hold = proposal.get("hold_until")
    return datetime.fromisoformat(hold) if hold else datetime.now(UTC)


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
