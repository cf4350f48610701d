"""`/metrics` in Prometheus text format, read from Redis at scrape time so replicas report the same numbers."""

from __future__ import annotations

from collections.abc import Iterable

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector
from redis.asyncio import Redis

from memory import keys
from memory.metrics import BUCKETS, EVENTS, bucket_label, job_key
from orchestrator.model import ProposalStatus, TaskStatus

JOBS = ("run", "apply")


class Snapshot(Collector):
    def __init__(self, families: list[Metric]) -> None:
        self.families = families

    def collect(self) -> Iterable[Metric]:
        return self.families


async def snapshot(redis: Redis, alive_workers: int) -> list[Metric]:
    tasks = GaugeMetricFamily("deputy_tasks", "Tasks by state", labels=["state"])
    for status in TaskStatus:
        tasks.add_metric([status.value], await redis.scard(keys.index("task", status.value)))
    proposals = GaugeMetricFamily("deputy_proposals", "Proposals by state", labels=["state"])
    for pstatus in ProposalStatus:
        proposals.add_metric([pstatus.value], await redis.scard(keys.index("proposal", pstatus.value)))
    events = CounterMetricFamily("deputy_ledger_events", "Ledger events appended, by type", labels=["type"])
    counts = await redis.hgetall(EVENTS)
    for name, value in sorted(counts.items()):
        events.add_metric([str(name)], float(value))
    decisions = CounterMetricFamily("deputy_decisions", "Proposal decisions", labels=["verdict"])
    decisions.add_metric(["approve"], float(counts.get("ProposalApproved", 0)))
    decisions.add_metric(["reject"], float(counts.get("ProposalRejected", 0)))
    workers = GaugeMetricFamily("deputy_workers_alive", "Workers with a live heartbeat", value=alive_workers)
    return [tasks, proposals, events, decisions, workers, await _job_latency(redis)]


async def _job_latency(redis: Redis) -> Metric:
    family = HistogramMetricFamily("deputy_job_seconds", "Job latency from enqueue to finish", labels=["job"])
    for job in JOBS:
        raw = await redis.hgetall(job_key(job))
        buckets = [(bucket_label(b), float(raw.get(bucket_label(b), 0))) for b in BUCKETS]
        buckets.append(("+Inf", float(raw.get("+Inf", 0))))
        family.add_metric([job], buckets, sum_value=float(raw.get("sum", 0)))
    return family


async def render(redis: Redis, alive_workers: int) -> bytes:
    registry = CollectorRegistry()
    registry.register(Snapshot(await snapshot(redis, alive_workers)))
    return generate_latest(registry)
