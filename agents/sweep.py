"""What the maintenance sweep needs to know, read in pipelined passes: the first reads RQ's registries and
Deputy's status indexes, the second the details of what the first found (who runs each started job, which
tasks and approved proposals have a job), the third — only when there is something to decide — liveness and
task states. An idle deployment costs one round trip per sweep; a busy one two or three, however many
tasks are in flight."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from redis import Redis
from rq.queue import Queue

from agents.queue import apply_job_id, run_job_id
from memory import keys


@dataclass
class Snapshot:
    started: list[tuple[str, str, str, float]] = field(default_factory=list)
    """(job id, execution id, worker name, when it started as a unix time) of every started job."""
    beats: dict[str, str | None] = field(default_factory=dict)
    """Liveness values of the workers running them."""
    stranded: list[str] = field(default_factory=list)
    """Job ids taken from the queue but not (yet) registered as started."""
    due: bool = False
    """A scheduled job (a retry, an undo hold) is due."""
    tasks_without_job: list[str] = field(default_factory=list)
    applies_due: dict[str, datetime] = field(default_factory=dict)
    """Approved proposals with no job, and when each should be applied."""
    redis_uptime_s: int = 0


def read_snapshot(connection: Redis, queue: Queue) -> Snapshot:
    started, tasks, approved, middle, due, uptime = _first_pass(connection, queue)
    entries = [e.split(":", 1) for e in started]
    snap = Snapshot(due=bool(due), redis_uptime_s=int(uptime))
    snap.stranded = sorted(set(middle) - {job for job, _ in entries})
    workers, has_run, has_apply, proposals = _second_pass(connection, entries, tasks, approved)
    snap.started = [(job, ex, w, at) for (job, ex), (w, at) in zip(entries, workers, strict=True)]
    snap.tasks_without_job = [t for t, there in zip(tasks, has_run, strict=True) if not there]
    unapplied = {p: raw for p, there, raw in zip(approved, has_apply, proposals, strict=True) if not there and raw}
    snap.beats, snap.applies_due = _third_pass(connection, [w for w, _ in workers if w], unapplied)
    return snap


def _first_pass(connection: Redis, queue: Queue) -> tuple[list[str], list[str], list[str], list[str], list[str], int]:
    """Registries, indexes and Redis's uptime; finished jobs' entries are dropped as their hashes expire (a
    no-op write, which Redis neither logs nor fsyncs, when there is nothing to drop)."""
    now = time.time()
    pipe = connection.pipeline(transaction=False)
    pipe.zrange(queue.started_job_registry.key, 0, -1)
    pipe.sunion([keys.index("task", "received"), keys.index("task", "running")])
    pipe.smembers(keys.index("proposal", "approved"))
    pipe.lrange(queue.intermediate_queue_key, 0, -1)
    pipe.zrangebyscore(queue.scheduled_job_registry.key, 0, int(now) - 1, start=0, num=1)  # wholly past
    pipe.zremrangebyscore(queue.finished_job_registry.key, 0, now)
    pipe.info("server")
    started, tasks, approved, middle, due, _, server = pipe.execute()
    found = [sorted(_text(v) for v in values) for values in (started, tasks, approved, middle, due)]
    return found[0], found[1], found[2], found[3], found[4], int(server.get("uptime_in_seconds", 0))


def _second_pass(
    connection: Redis, entries: list[list[str]], tasks: list[str], approved: list[str]
) -> tuple[list[tuple[str, float]], list[Any], list[Any], list[Any]]:
    if not (entries or tasks or approved):
        return [], [], [], []
    pipe = connection.pipeline(transaction=False)
    for job, execution in entries:
        pipe.hmget(f"rq:execution:{job}:{execution}", ["worker_name", "created_at"])
        pipe.hget(f"rq:job:{job}", "worker_name")  # the execution may already be gone
    for task_id in tasks:
        pipe.exists(f"rq:job:{run_job_id(task_id)}")
    for proposal_id in approved:
        pipe.exists(f"rq:job:{apply_job_id(proposal_id)}")
        pipe.hget(keys.record("proposal", proposal_id), "data")
    found = pipe.execute()
    n, m = 2 * len(entries), len(tasks)
    workers = [_worker(execution, job) for execution, job in zip(found[0:n:2], found[1:n:2], strict=True)]
    return workers, found[n : n + m], found[n + m :: 2], found[n + m + 1 :: 2]


def _third_pass(
    connection: Redis, workers: list[str], unapplied: dict[str, Any]
) -> tuple[dict[str, str | None], dict[str, datetime]]:
    owners = sorted({w.rpartition("/")[0] or w for w in workers})
    proposals = {p: json.loads(raw) for p, raw in unapplied.items()}
    if not (owners or proposals):
        return {}, {}
    pipe = connection.pipeline(transaction=False)
    for owner in owners:
        pipe.get(keys.worker_alive(owner))
    for proposal in proposals.values():
        pipe.hget(keys.record("task", proposal["task_id"]), "status")
    found = pipe.execute()
    beats = {o: (_text(v) if v is not None else None) for o, v in zip(owners, found, strict=False)}
    return beats, _applies_due(proposals, found[len(owners) :])


def _applies_due(proposals: dict[str, Any], statuses: list[Any]) -> dict[str, datetime]:
    """When each approved proposal should be applied (now, or the end of its undo window); only those whose
    task still waits for it."""
    due = {}
    for (proposal_id, proposal), status in zip(proposals.items(), statuses, strict=True):
        if _text(status or b"") in ("approved", "applying"):
            hold = proposal.get("hold_until")
            due[proposal_id] = datetime.fromisoformat(hold) if hold else datetime.now(UTC)
    return due


def _worker(execution: list[Any], job_worker: Any) -> tuple[str, float]:
    """Who runs a started job and since when (an execution already gone: its job's worker, long ago)."""
    name, created = execution
    return _text(name or job_worker or b""), float(created or 0)


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
