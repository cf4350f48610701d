"""`/metrics` in Prometheus text format. Shared state (tasks, proposals, ledger counts, jobs, queue) is read
from Redis at scrape time, so replicas report the same numbers; request counts and ack latency belong to
this web process (Prometheus scrapes each replica). The outcome series (what became of proposals, minutes saved)
are folded from the ledger incrementally: see `Outcomes`."""

from __future__ import annotations

import asyncio
import time
import weakref
from collections.abc import Awaitable, Callable, Iterable, Mapping
from datetime import UTC, datetime

from aiohttp import web
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector
from redis.asyncio import Redis

from connectors.registry import plugins
from memory import keys
from memory.codec import text
from memory.ledger import RedisLedger
from memory.metrics import ACTIONS, BUCKETS, DIGEST, EVENTS, MODEL, bucket_label, job_key
from orchestrator.kinds import minutes_saved
from orchestrator.model import ProposalStatus, TaskStatus
from orchestrator.stats import OUTCOMES, Stats, Tally

JOBS = ("run", "apply")
QUEUE = "rq:queue:deputy"
WEB = CollectorRegistry()
REQUESTS = Counter("deputy_requests", "HTTP requests by channel and status", ["channel", "status"], registry=WEB)
ACK = Histogram(
    "deputy_ack_seconds",
    "Time to answer an HTTP request (the platform's ack)",
    ["channel"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 3.0),
    registry=WEB,
)


LABELS: web.AppKey[Mapping[str, str]] = web.AppKey("metrics_labels")
"""URL prefix → label, from the channels and sources installed (bot/web.py fills it)."""


def channel_of(path: str, labels: Mapping[str, str]) -> str:
    return next((label for prefix, label in labels.items() if path.startswith(prefix)), "ops")


@web.middleware
async def measure(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    channel, started, status = channel_of(request.path, request.app[LABELS]), time.perf_counter(), 500
    try:
        response = await handler(request)
        status = response.status
        return response
    except web.HTTPException as err:
        status = err.status
        raise
    finally:
        REQUESTS.labels(channel, str(status)).inc()
        ACK.labels(channel).observe(time.perf_counter() - started)


class Snapshot(Collector):
    def __init__(self, families: list[Metric]) -> None:
        self.families = families

    def collect(self) -> Iterable[Metric]:
        return self.families


async def snapshot(
    redis: Redis, alive_workers: int, budget_usd: float, model: str, minutes: Mapping[str, float] | None = None
) -> list[Metric]:
    counts = await redis.hgetall(EVENTS)
    decisions = CounterMetricFamily("deputy_decisions", "Proposal decisions", labels=["verdict"])
    for verdict, event in (("approve", "ProposalApproved"), ("reject", "ProposalRejected"), ("undo", "ProposalUndone")):
        decisions.add_metric([verdict], float(counts.get(event, 0)))
    events = CounterMetricFamily("deputy_ledger_events", "Ledger events appended, by type", labels=["type"])
    for name, value in sorted(counts.items()):
        events.add_metric([str(name)], float(value))
    workers = GaugeMetricFamily("deputy_workers_alive", "Workers with a live heartbeat", value=alive_workers)
    return [
        await _states(redis, "task", [s.value for s in TaskStatus]),
        await _states(redis, "proposal", [s.value for s in ProposalStatus]),
        events,
        decisions,
        await _actions(redis),
        workers,
        await _job_latency(redis),
        *await _queue(redis),
        *await _model(redis, budget_usd, model),
        await _digest(redis),
        *_outcomes(await outcomes(redis).stats(dict(minutes or minutes_saved(t for p in plugins() for t in p.kinds)))),
    ]


async def _states(redis: Redis, kind: str, states: list[str]) -> Metric:
    family = GaugeMetricFamily(f"deputy_{kind}s", f"{kind.capitalize()}s by state", labels=["state"])
    for state in states:
        family.add_metric([state], await redis.scard(keys.index(kind, state)))
    return family


async def _actions(redis: Redis) -> Metric:
    family = CounterMetricFamily("deputy_actions", "Actions applied or failed, by kind", labels=["kind", "outcome"])
    for key, value in sorted((await redis.hgetall(ACTIONS)).items()):
        event, _, kind = str(key).partition("|")
        if event in ("ActionApplied", "ActionFailed"):
            family.add_metric([kind, "applied" if event == "ActionApplied" else "failed"], float(value))
    return family


async def _job_latency(redis: Redis) -> Metric:
    family = HistogramMetricFamily("deputy_job_seconds", "Job latency from enqueue to finish", labels=["job"])
    for job in JOBS:
        raw = await redis.hgetall(job_key(job))
        buckets = [(bucket_label(b), float(raw.get(bucket_label(b), 0))) for b in BUCKETS]
        buckets.append(("+Inf", float(raw.get("+Inf", 0))))
        family.add_metric([job], buckets, sum_value=float(raw.get("sum", 0)))
    return family


async def _queue(redis: Redis) -> list[Metric]:
    depth = await redis.llen(QUEUE)
    age = 0.0
    if depth and (oldest := await redis.lindex(QUEUE, -1)):
        enqueued = await redis.hget(f"rq:job:{text(oldest)}", "enqueued_at")
        if enqueued:
            age = max(0.0, time.time() - _rq_time(text(enqueued)))
    return [
        GaugeMetricFamily("deputy_queue_depth", "Jobs waiting in Deputy's queue", value=depth),
        GaugeMetricFamily("deputy_queue_oldest_age_seconds", "Age of the oldest waiting job", value=age),
    ]


def _rq_time(value: str) -> float:
    return datetime.fromisoformat(value.replace("Z", "+00:00")).replace(tzinfo=UTC).timestamp()


async def _model(redis: Redis, budget_usd: float, model: str) -> list[Metric]:
    raw = await redis.hgetall(MODEL)
    calls = CounterMetricFamily("deputy_model_calls", "Model calls, by model", labels=["model"])
    tokens = CounterMetricFamily("deputy_model_tokens", "Model tokens, by model and direction", labels=["model", "io"])
    dollars = CounterMetricFamily("deputy_model_dollars", "Model spend in USD, by model", labels=["model"])
    spent_today = 0.0
    if not raw:  # nothing called yet: show the configured model at zero rather than no series at all
        raw = {f"calls|{model}": "0", f"in|{model}": "0", f"out|{model}": "0", f"usd|{model}": "0"}
    for key, value in sorted(raw.items()):
        field, _, model = str(key).partition("|")
        if field == "calls":
            calls.add_metric([model], float(value))
        elif field in ("in", "out", "cached"):
            tokens.add_metric([model, field], float(value))
        elif field == "usd":
            dollars.add_metric([model], float(value))
        elif field == f"usd_day:{datetime.now(UTC):%Y-%m-%d}":
            spent_today += float(value)
    remaining = GaugeMetricFamily(
        "deputy_budget_remaining_dollars", "Today's model budget left", value=max(0.0, budget_usd - spent_today)
    )
    return [calls, tokens, dollars, remaining]


async def _digest(redis: Redis) -> Metric:
    sent = await redis.get(DIGEST)
    return GaugeMetricFamily(
        "deputy_digest_last_sent_timestamp_seconds",
        "When the last digest was posted (0: never)",
        value=float(sent or 0),
    )


class Outcomes:
    """The all-time outcome figures, kept up to date by each scrape from where the last one stopped: a scrape reads
    only the ledger entries appended since (the first scrape of a process reads the whole ledger, once) and sums
    the figures again only when there were any. Each web process keeps its own tally in memory."""

    def __init__(self, redis: Redis) -> None:
        self.redis, self.ledger, self.lock = redis, RedisLedger(redis), asyncio.Lock()
        self.tally, self.cursor, self.minutes = Tally(), "0", dict[str, float]()
        self.figures: Stats | None = None

    async def stats(self, minutes: dict[str, float]) -> Stats:
        async with self.lock:  # concurrent scrapes fold each entry once
            if self.cursor != "0" and not await self.redis.xrange(keys.LEDGER, self.cursor, self.cursor):
                self.tally, self.cursor, self.figures = Tally(), "0", None  # a new or emptied ledger: start over
            async for batch in self.ledger.scan(after=self.cursor):
                self.tally.add_all(event for _, event in batch)
                self.cursor, self.figures = batch[-1][0], None
            if self.figures is None or minutes != self.minutes:
                self.figures, self.minutes = self.tally.stats(minutes), minutes
            return self.figures


_OUTCOMES: weakref.WeakKeyDictionary[Redis, Outcomes] = weakref.WeakKeyDictionary()


def outcomes(redis: Redis) -> Outcomes:
    """One tally per Redis client (a web app has one), dropped with it."""
    if redis not in _OUTCOMES:
        _OUTCOMES[redis] = Outcomes(redis)
    return _OUTCOMES[redis]


def _outcomes(s: Stats) -> list[Metric]:
    """The all-time figures of `deputy stats` (orchestrator/stats.py), per kind, per playbook and per rule."""
    return [*_by_kind(s), _by_playbook(s), _rules(s), _medians(s)]


def _by_kind(s: Stats) -> list[Metric]:
    outcomes = GaugeMetricFamily(
        "deputy_outcomes", "Staged actions by kind and what became of them", labels=["kind", "outcome"]
    )
    proposed = CounterMetricFamily("deputy_proposed", "Actions staged, by kind", labels=["kind"])
    saved = CounterMetricFamily(
        "deputy_minutes_saved", "Minutes applied actions saved (policies.yaml)", labels=["kind"]
    )
    caught = CounterMetricFamily(
        "deputy_caught", "Actions rejected, revised or doubted by the verifier", labels=["kind"]
    )
    for kind, f in sorted(s.kinds.items()):
        for outcome in OUTCOMES:
            outcomes.add_metric([kind, outcome], f.outcomes[outcome])
        proposed.add_metric([kind], f.proposed)
        saved.add_metric([kind], f.minutes_saved)
        caught.add_metric([kind], f.caught)
    return [outcomes, proposed, saved, caught]


def _by_playbook(s: Stats) -> Metric:
    family = GaugeMetricFamily(
        "deputy_playbook_outcomes", "Proposals by playbook and what became of them", labels=["playbook", "outcome"]
    )
    for name, f in sorted(s.playbooks.items()):
        for outcome in OUTCOMES:
            family.add_metric([name, outcome], f.outcomes[outcome])
    return family


def _rules(s: Stats) -> Metric:
    family = CounterMetricFamily("deputy_auto_approved", "Proposals a policy rule approved, by rule", labels=["rule"])
    for rule, n in sorted(s.totals.auto_approved.items()):
        family.add_metric([rule], n)
    return family


def _medians(s: Stats) -> Metric:
    family = GaugeMetricFamily(
        "deputy_decision_median_seconds",
        "Median time from card to decision, by kind (all: every kind)",
        labels=["kind"],
    )
    for kind, f in [*sorted(s.kinds.items()), ("all", s.totals)]:
        if f.median_decision_s is not None:
            family.add_metric([kind], f.median_decision_s)
    return family


async def render(
    redis: Redis,
    alive_workers: int,
    budget_usd: float,
    model: str = "offline",
    minutes: Mapping[str, float] | None = None,
) -> bytes:
    registry = CollectorRegistry()
    registry.register(Snapshot(await snapshot(redis, alive_workers, budget_usd, model, minutes)))
    return generate_latest(registry) + generate_latest(WEB)
