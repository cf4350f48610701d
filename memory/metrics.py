"""Cross-process metrics kept in Redis: every process records, any web process reports. Event counts are
incremented by the ledger commit itself (so they can't drift); job latencies are histogram buckets here."""

from __future__ import annotations

from typing import Any

from redis import Redis as SyncRedis

from memory import keys

EVENTS = f"{keys.PREFIX}:metrics:events"
ACTIONS = f"{keys.PREFIX}:metrics:actions"  # "<event type>|<action kind>" -> count, kept by the commit script
MODEL = f"{keys.PREFIX}:metrics:model"  # "calls|<model>", "in|<model>", "usd|<model>", "usd_day:<date>|<model>"
DIGEST = f"{keys.PREFIX}:metrics:digest_sent_at"  # unix time of the last digest
BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)


def job_key(job: str) -> str:
    return f"{keys.PREFIX}:metrics:job:{job}"


def bucket_label(bound: float) -> str:
    return f"{bound:g}"


def observe_job(connection: SyncRedis, job: str, seconds: float) -> None:
    """Cumulative buckets, as Prometheus expects them, plus sum and count, in one round trip."""
    pipe = connection.pipeline(transaction=False)
    observe_on(pipe, job, seconds)
    pipe.execute()


def observe_on(pipe: Any, job: str, seconds: float) -> None:
    """Queue one observation on a pipeline that carries other writes: the worker puts it in RQ's own
    transaction that marks the job finished, so the histogram costs no round trip and no fsync of its own."""
    key = job_key(job)
    for bound in BUCKETS:
        if seconds <= bound:
            pipe.hincrby(key, bucket_label(bound), 1)
    pipe.hincrby(key, "+Inf", 1)
    pipe.hincrbyfloat(key, "sum", seconds)
