"""Reading the ledger: `deputy replay`'s work (fold the ledger, load every stored record, compare) and `deputy
ledger`'s full read (every line formatted, written to a null sink), in-process through the same functions
`bot/ops.py` runs, over a synthetic ledger of 10k and then 50k tasks (`--sizes`). Each task has the nine events of an
approved, applied email and its task and proposal records, written by the real `RedisStore.commit`. Baseline in
the same run: a bare redis-py `XRANGE` walk of the same stream (COUNT 5000, bytes, no decoding). Linearity shows
twice: the per-event cost at 10k against 1k, and the time per batch from the start of the 10k ledger to its end.
Run: `python -m bench.replay` (or `make bench`)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import io
import os
import statistics
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

from redis.asyncio import Redis

from bench.common import start_redis
from bot.ops import ledger_state, run_ledger, stored_state
from bot.wiring import build_runtime
from config.settings import Settings, settings_with
from memory import keys
from memory.codec import text
from memory.ledger import BATCH
from memory.store import RedisStore
from orchestrator import events as ev
from orchestrator.model import (
    ActionStatus,
    Actor,
    ChatRef,
    Decision,
    Proposal,
    StagedAction,
    Task,
    Verdict,
)
from orchestrator.ports import Record
from orchestrator.replay import differences, fold

SIZES = (10_000, 50_000)
EVENTS_PER_TASK = 9
TASKS_PER_COMMIT = 100
BARE_COUNT = 5000
CHAT = ChatRef("slack", "C0BENCH", "1731400000.000100")
ME = Actor("slack", "U0BENCH", "sam")
START = datetime(2026, 11, 3, 9, 0, tzinfo=UTC)


class NullSink(io.TextIOBase):
    """Where `deputy ledger` prints during the benchmark: the formatting is timed, the terminal is not."""

    def write(self, text: str) -> int:
        return len(text)


def model_called(task: Task, at: datetime) -> ev.Event:
    detail = {"model": "offline/draft", "step": "draft", "tier": "small", "tokens_in": 812, "tokens_out": 96}
    return ev.ModelCalled(at=at, task_id=task.id, cost_usd=0.000214, summary="draft with offline/draft", detail=detail)


def proposal_for(task: Task, n: int, at: datetime) -> Proposal:
    fields = {"to": f"client{n}@example.com", "subject": f"Invoice {n}", "body": "Hello, the invoice is attached."}
    action = StagedAction("email", fields, f"Email client{n}@example.com: Invoice {n}", f"client{n}@example.com")
    return Proposal(task.id, task.id, CHAT, "email", f"Send invoice {n}", [action], at, cost_spent_usd=0.000214)


def life(n: int) -> tuple[list[Record], list[ev.Event]]:
    """One task from submission to done through the model's own methods, so every event is a real one."""
    at = START + timedelta(seconds=n)
    task = Task(f"t{n:07d}", f"email client{n}@example.com the invoice {n}", ME, CHAT, f"Ev{n}", at)
    proposal = proposal_for(task, n, at)
    events = [task.submitted(at), task.start(at), model_called(task, at), task.propose(proposal, at)]
    events.append(task.decide(proposal, Decision(Verdict.APPROVE, ME, at, proposal.version)))
    applying = task.applying(at)
    assert applying is not None
    events += [applying, proposal.action_moved(0, ActionStatus.APPLYING, at)]
    events += [proposal.action_moved(0, ActionStatus.APPLIED, at, "250 OK"), task.finish(at, "sent 1 email")]
    return [task, proposal], events


async def build(store: RedisStore, first: int, last: int) -> None:
    for start in range(first, last, TASKS_PER_COMMIT):
        lives = [life(n) for n in range(start, min(last, start + TASKS_PER_COMMIT))]
        await store.commit([r for rs, _ in lives for r in rs], [e for _, es in lives for e in es])


async def bare_walk(url: str) -> int:
    """The floor: the stream's bytes from Redis, parsed by redis-py into entries and nothing else."""
    client = Redis.from_url(url, protocol=2)
    seen, start = 0, "-"
    try:
        while rows := await client.xrange(keys.LEDGER, min=start, max="+", count=BARE_COUNT):
            seen += len(rows)
            start = "(" + text(rows[-1][0])
    finally:
        await client.aclose()
    return seen


async def folded(settings: Settings) -> int:
    """The decode+fold path alone, as `deputy replay` runs it: every event rebuilt as an `Event` and folded."""
    runtime = build_runtime(settings)
    try:
        return len((await ledger_state(runtime.ledger)).tasks)
    finally:
        await runtime.close()


async def replay(settings: Settings) -> int:
    """`deputy replay` without its printing: fold, stored state, differences (there must be none)."""
    rebuilt, stored = await stored_state(settings)
    diffs = differences(rebuilt, stored)
    assert not diffs and len(stored.tasks) == len(rebuilt.tasks), diffs[:3]
    return len(rebuilt.tasks)


async def batch_times(settings: Settings) -> list[float]:
    """Seconds per batch (read, decode, fold) from the start of the ledger to its end: flat if reading is linear."""
    runtime = build_runtime(settings)
    times: list[float] = []
    last = time.perf_counter()
    try:
        async for batch in runtime.ledger.scan():
            fold(event for _, event in batch)
            now = time.perf_counter()
            times.append(now - last)
            last = now
    finally:
        await runtime.close()
    return times


def fifths(times: list[float]) -> str:
    step = max(1, len(times) // 5)
    return ", ".join(f"{statistics.median(times[i * step : (i + 1) * step]) * 1e3:.1f}" for i in range(5))


async def ledger(settings: Settings) -> int:
    with contextlib.redirect_stdout(NullSink()):
        return await run_ledger(settings, follow=False, as_json=False, since=None)


async def server_cpu(client: Redis) -> float:
    info = await client.info("cpu")
    return float(info["used_cpu_user"]) + float(info["used_cpu_sys"])


async def timed(client: Redis, work: Callable[[], Awaitable[object]]) -> tuple[float, float]:
    """Wall seconds in this process and CPU seconds in redis-server, which a script or a big reply moves work to."""
    cpu, started = await server_cpu(client), time.perf_counter()
    await work()
    return time.perf_counter() - started, await server_cpu(client) - cpu


async def measure(url: str, settings: Settings, rounds: int) -> dict[str, tuple[float, float]]:
    """Median seconds per step over alternating rounds, so every step sees the same machine state."""
    steps: dict[str, Callable[[], Awaitable[object]]] = {
        "bare": lambda: bare_walk(url),
        "fold": lambda: folded(settings),
        "replay": lambda: replay(settings),
        "ledger": lambda: ledger(settings),
    }
    times: dict[str, list[tuple[float, float]]] = {name: [] for name in steps}
    client = Redis.from_url(url, protocol=2)
    try:
        for _ in range(rounds):
            for name, work in steps.items():
                times[name].append(await timed(client, work))
    finally:
        await client.aclose()
    return {
        name: (statistics.median(w for w, _ in got), statistics.median(c for _, c in got))
        for name, got in times.items()
    }


def report(tasks: int, t: dict[str, tuple[float, float]]) -> None:
    n, bare = tasks * EVENTS_PER_TASK, t["bare"][0]
    print(f"{tasks} tasks, {n} events, {tasks * 2} records (median of rounds)")
    for name, label in (
        ("bare", "bare XRANGE walk (baseline)"),
        ("fold", "decode + fold"),
        ("replay", "deputy replay's work"),
        ("ledger", "deputy ledger, full read"),
    ):
        wall, cpu = t[name]
        ratio = "baseline" if name == "bare" else f"{wall / bare:.2f}x bare"
        print(
            f"  {label:<28} {wall:7.3f} s {n / wall:8.0f} events/s {wall / n * 1e6:6.1f} us/event"
            f"  redis-server cpu {cpu:6.3f} s  {ratio}"
        )


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--sizes", default=",".join(map(str, SIZES)), help="tasks, ascending, comma-separated")
    args = parser.parse_args()
    sizes = tuple(int(size) for size in args.sizes.split(","))
    process, url = start_redis()
    settings = settings_with({"REDIS_URL": url})
    client = Redis.from_url(url, decode_responses=True, protocol=2)
    results: dict[int, dict[str, tuple[float, float]]] = {}
    try:
        built = 0
        for size in sizes:
            await build(RedisStore(client), built, size)
            built = size
            results[size] = await measure(url, settings, args.rounds)
            report(size, results[size])
        along = fifths(await batch_times(settings))
    finally:
        await client.aclose()
        process.terminate()
        process.wait()
    small, large = results[sizes[0]], results[sizes[-1]]
    scale = sizes[-1] / sizes[0]
    growth = ", ".join(f"{name} {large[name][0] / small[name][0] / scale:.2f}" for name in small)
    print(f"per-event cost at {sizes[-1]} tasks / at {sizes[0]} (1.00 = linear): {growth}")
    print(f"ms per batch of {BATCH} (read, decode, fold), median by fifth of the {sizes[-1]}-task ledger: {along}")
    print(f"load average (1 min) at the end: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    asyncio.run(main())
