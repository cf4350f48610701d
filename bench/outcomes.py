"""`deputy stats` and `deputy shadow` (offline) over a synthetic ledger of 1k, then 10k tasks, in-process through
the functions the commands run. The tasks are a mix (six in ten emails approved as drafted, one edited then
approved, one rejected, a note auto-approved, one left pending), each made by the model's own methods and written
by the real `RedisStore.commit` with its records, so a shadow run redrafts real requests. Timed: the stats fold
(`collect`, the whole ledger), /metrics' first scrape (the whole ledger) and the next one (nothing new), the
shadow run's read of the past (`past_requests`: one ledger walk, the records in pipelined batches) and its
drafting (every request through the offline runner: classify, retrieve, draft, accounting). Baseline in the
same run: a bare redis-py `XRANGE` walk of the same stream. Run: `python -m bench.outcomes`."""

from __future__ import annotations

import argparse
import asyncio
import copy
import statistics
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from redis.asyncio import Redis

from agents.shadow import past_requests, shadow
from bench.common import start_redis
from bench.replay import bare_walk, fifths
from bot.metrics import Outcomes
from config.settings import settings_with
from config.wiring import Runtime, build_runtime, shadow_agent
from memory import keys
from memory.ledger import BATCH
from memory.store import RedisStore
from orchestrator import events as ev
from orchestrator.model import ActionStatus, Actor, ChatRef, Decision, Proposal, StagedAction, Task, Verdict
from orchestrator.ports import Record
from orchestrator.stats import Tally, collect

SIZES = (1_000, 10_000)
TASKS_PER_COMMIT = 100
CONSOLE = ChatRef("console", "local")
ME = Actor("console", "op", "you")
RULE = Actor("policy", "notes-always", "rule notes-always")
START = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


def _proposal(task: Task, kind: str, fields: dict[str, Any], target: str, playbook: str) -> Proposal:
    action = StagedAction(kind, fields, f"{kind} {target}", target)
    proposal = Proposal(
        f"p{task.id[1:]}", task.id, CONSOLE, playbook, f"{playbook} for {target}", [action], task.created_at
    )
    proposal.drafted = copy.deepcopy(proposal.actions)
    return proposal


def staged(n: int, at: datetime) -> tuple[Task, Proposal, list[ev.Event]]:
    if n % 10 == 8:
        task = Task(f"t{n:07d}", f"prepare the notes for meeting {n}", ME, CONSOLE, f"e{n}", at)
        proposal = _proposal(task, "note.save", {"title": f"Meeting {n}", "body": "Agenda"}, "Deputy notes", "note")
    else:
        to = f"client{n}@example.com"
        task = Task(f"t{n:07d}", f"email {to} about invoice {n}", ME, CONSOLE, f"e{n}", at)
        fields = {"to": to, "subject": f"About invoice {n}", "body": f"Hi Client{n},\n\nI'm writing about invoice {n}."}
        proposal = _proposal(task, "email.send", fields, to, "email")
    called = ev.ModelCalled(at=at, task_id=task.id, cost_usd=0.0002, summary="draft", detail={"model": "offline"})
    return task, proposal, [task.submitted(at), task.start(at), called, task.propose(proposal, at)]


def life(n: int) -> tuple[list[Record], list[ev.Event]]:
    """One task of the mix, from submission to its end."""
    at = START + timedelta(seconds=30 * n)
    task, proposal, events = staged(n, at)
    kind = n % 10
    if kind == 9:
        return [task, proposal], events  # pending
    if kind == 6:
        first = proposal.actions[0]
        events.append(
            proposal.edit(0, StagedAction(first.kind, {**first.fields, "subject": "Hi"}, "x", first.target), ME, at)
        )
    verdict = Verdict.REJECT if kind == 7 else Verdict.APPROVE
    decision = Decision(verdict, RULE if kind == 8 else ME, at + timedelta(seconds=90), proposal.version)
    events.append(task.decide(proposal, decision))
    if verdict is Verdict.APPROVE:
        applying = task.applying(at)
        assert applying is not None
        events += [applying, proposal.action_moved(0, ActionStatus.APPLYING, at)]
        events += [proposal.action_moved(0, ActionStatus.APPLIED, at, "done"), task.finish(at, "done")]
    return [task, proposal], events


async def build(store: RedisStore, first: int, last: int) -> None:
    for start in range(first, last, TASKS_PER_COMMIT):
        lives = [life(n) for n in range(start, min(last, start + TASKS_PER_COMMIT))]
        await store.commit([r for rs, _ in lives for r in rs], [e for _, es in lives for e in es])


async def timed(work: Callable[[], Awaitable[Any]]) -> tuple[float, Any]:
    started = time.perf_counter()
    result = await work()
    return time.perf_counter() - started, result


async def measure(runtime: Runtime, url: str, rounds: int) -> dict[str, float]:
    """Median seconds of each step over `rounds` (the shadow run's drafting once: it writes model calls)."""
    minutes = runtime.coordinator.core.config.policies.minutes
    scrape = Outcomes(runtime.redis)
    steps: dict[str, Callable[[], Awaitable[Any]]] = {
        "bare": lambda: bare_walk(url),
        "stats": lambda: collect(runtime.ledger, minutes),
        "read": lambda: past_requests(runtime.ledger, runtime.redis, after="0"),
    }
    times: dict[str, list[float]] = {name: [] for name in steps}
    for _ in range(rounds):
        for name, work in steps.items():
            times[name].append((await timed(work))[0])
    result = {name: statistics.median(got) for name, got in times.items()}
    result["scrape"], _ = await timed(lambda: scrape.stats(minutes))
    result["rescrape"], _ = await timed(lambda: scrape.stats(minutes))
    pasts = await past_requests(runtime.ledger, runtime.redis, after="0")
    runner = shadow_agent(runtime, books=None, model="offline")
    result["draft"], run = await timed(lambda: shadow(runner, runtime.coordinator.core.stage, pasts))
    result["requests"], result["differ"] = len(run.compared), sum(run.reasons.values())
    return result


async def batch_times(runtime: Runtime) -> list[float]:
    """Seconds per batch (read, decode, fold) from the start of the ledger to its end: flat if the fold is linear."""
    tally, times, last = Tally(), list[float](), time.perf_counter()
    async for batch in runtime.ledger.scan():
        tally.add_all(event for _, event in batch)
        now = time.perf_counter()
        times.append(now - last)
        last = now
    return times


def report(tasks: int, events: int, t: dict[str, float]) -> None:
    print(f"{tasks} tasks, {events} events")
    bare = t["bare"]
    for name, label in (
        ("bare", "bare XRANGE walk (baseline)"),
        ("stats", "deputy stats: read + fold"),
        ("scrape", "/metrics: first scrape"),
        ("read", "deputy shadow: the past"),
    ):
        ratio = "baseline" if name == "bare" else f"{t[name] / bare:.2f}x bare"
        print(f"  {label:<30} {t[name]:7.3f} s {events / t[name]:9.0f} events/s  {ratio}")
    print(f"  {'/metrics: next scrape':<30} {t['rescrape'] * 1000:7.3f} ms (nothing new to fold)")
    requests = int(t["requests"])
    print(
        f"  {'deputy shadow: drafting':<30} {t['draft']:7.3f} s {requests / t['draft']:9.0f} requests/s"
        f"  ({requests} requests, {int(t['differ'])} different)"
    )


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    process, url = start_redis()
    runtime = build_runtime(settings_with({"REDIS_URL": url}))
    client = Redis.from_url(url, decode_responses=True, protocol=2)
    results: dict[int, dict[str, float]] = {}
    try:
        built = 0
        for size in SIZES:
            await build(RedisStore(client), built, size)
            built, events = size, await client.xlen(keys.LEDGER)  # earlier sizes' shadow runs added model calls
            results[size] = await measure(runtime, url, args.rounds)
            report(size, events, results[size])
        along = fifths(await batch_times(runtime))
    finally:
        await client.aclose()
        await runtime.close()
        process.terminate()
        process.wait()
    small, large, scale = results[SIZES[0]], results[SIZES[-1]], SIZES[-1] / SIZES[0]
    growth = ", ".join(f"{name} {large[name] / small[name] / scale:.2f}" for name in ("bare", "stats", "read", "draft"))
    print(f"cost per task at {SIZES[-1]} / at {SIZES[0]} (1.00 = linear): {growth}")
    print(f"ms per batch of {BATCH} (read, decode, fold), median by fifth of the {SIZES[-1]}-task ledger: {along}")


if __name__ == "__main__":
    asyncio.run(main())
