"""The revise round trip against bare RQ, measured in one run on one Redis: card → revised card, offline model.

Deputy: N pending proposals (drafted through the real path first), then for each `/revise <id> shorter, mention
the late fee` typed on the console → coordinator → RQ → `deputy worker` (the runner's revise step, validation,
staging) → the next version committed and the card redrawn; one at a time for latency, all at once for
throughput. Baseline: a no-op RQ job on the same Redis with the same forking worker class (a revision is one job).
Latency is measured in pairs — a bare round trip, then a revision, both workers idle but the one at work — so a
shared machine's drift lands on both; throughput rounds alternate bare and Deputy.
Run: `python -m bench.revise --proposals 100`."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import time

from redis import Redis
from rq import Queue
from rq.serializers import JSONSerializer

from bench.common import ROOT, ms, pct, python, start_process, start_redis, stop, summary, wait
from bot.wiring import Runtime, build_runtime
from config.settings import Settings, settings_with
from memory import keys
from orchestrator.commands import Inbound
from orchestrator.model import Actor, ChatRef

CHAT = ChatRef("console", "bench")
ME = Actor("console", "bench", "bench")
FEEDBACK = "shorter, mention the late fee"
BARE_WORKER = (
    "import sys; from redis import Redis; from rq import Worker, Queue; from rq.serializers import JSONSerializer;"
    "c = Redis.from_url(sys.argv[1]); "
    "Worker([Queue('bare', connection=c, serializer=JSONSerializer)], connection=c, serializer=JSONSerializer)"
    ".work(logging_level='ERROR')"
)


def bare_round_trip(queue: Queue) -> float:
    start = time.perf_counter()
    job = queue.enqueue("bench.noop.noop")
    wait(lambda: job.get_status(refresh=True) == "finished", 30)
    return time.perf_counter() - start


def bare_throughput(url: str, n: int) -> float:
    queue = Queue("bare", connection=Redis.from_url(url), serializer=JSONSerializer)
    start = time.perf_counter()
    jobs = [queue.enqueue("bench.noop.noop") for _ in range(n)]
    wait(lambda: queue.count == 0 and all(j.get_status(refresh=True) == "finished" for j in jobs[-5:]), 120, 0.005)
    return n / (time.perf_counter() - start)


async def say(rt: Runtime, text: str) -> None:
    await rt.coordinator.receive(Inbound(actor=ME, chat=CHAT, text=text, event_id=f"bench-{time.time_ns()}"))


async def pending(rt: Runtime, n: int) -> list[str]:
    """N pending proposals, drafted through the real path."""
    await asyncio.gather(*(say(rt, f"email client{i}@example.com about invoice {i}") for i in range(n)))
    deadline = time.monotonic() + 300
    while len(ids := await rt.store.ids("proposal", "pending")) < n:
        if time.monotonic() > deadline:
            raise TimeoutError(f"only {len(ids)} of {n} proposals were drafted")
        await asyncio.sleep(0.01)
    return sorted(ids)


async def versions(rt: Runtime, proposal_ids: list[str]) -> list[int]:
    pipe = rt.redis.pipeline(transaction=False)
    for pid in proposal_ids:
        pipe.hget(keys.record("proposal", pid), "data")
    return [int(json.loads(raw)["version"]) if raw else 0 for raw in await pipe.execute()]


async def until_revised(rt: Runtime, proposal_ids: list[str], limit_s: float = 300) -> None:
    """One pipelined read of the records per poll: the revised ones say version 2."""
    deadline, poll = time.monotonic() + limit_s, 0.001 if len(proposal_ids) == 1 else 0.01
    while min(await versions(rt, proposal_ids)) < 2:
        if time.monotonic() > deadline:
            raise TimeoutError("revisions never came")
        await asyncio.sleep(poll)


async def latencies(rt: Runtime, proposal_ids: list[str], bare: Queue) -> tuple[list[float], list[float]]:
    """(bare round trips, revisions), one of each in turn."""
    pairs = []
    for pid in proposal_ids:
        baseline = bare_round_trip(bare)
        start = time.perf_counter()
        await say(rt, f"/revise {pid} {FEEDBACK}")
        await until_revised(rt, [pid])
        pairs.append((baseline, time.perf_counter() - start))
    return [b for b, _ in pairs], [r for _, r in pairs]


async def throughput(rt: Runtime, proposal_ids: list[str]) -> float:
    start = time.perf_counter()
    await asyncio.gather(*(say(rt, f"/revise {pid} {FEEDBACK}") for pid in proposal_ids))
    await until_revised(rt, proposal_ids)
    return len(proposal_ids) / (time.perf_counter() - start)


async def fresh_pending(rt: Runtime, url: str, n: int) -> list[str]:
    Redis.from_url(url).flushall()
    wait(lambda: len(Redis.from_url(url).keys("deputy:worker:*")) == 1, 10)
    return await pending(rt, n)


async def latency_round(url: str, settings: Settings, n: int) -> tuple[list[float], list[float]]:
    rt, bare = build_runtime(settings, url), Queue("bare", connection=Redis.from_url(url), serializer=JSONSerializer)
    try:
        await latencies(rt, await fresh_pending(rt, url, 5), bare)  # warm up
        return await latencies(rt, await fresh_pending(rt, url, n), bare)
    finally:
        await rt.close()


async def throughput_round(url: str, settings: Settings, n: int) -> float:
    rt = build_runtime(settings, url)
    try:
        return await throughput(rt, await fresh_pending(rt, url, n))
    finally:
        await rt.close()


def deputy_worker(url: str, env: dict[str, str]) -> list[subprocess.Popen[bytes]]:
    worker = [start_process([python(), "-m", "bot.cli", "worker"], env)]
    wait(lambda: len(Redis.from_url(url).keys("deputy:worker:*")) == 1, 30)
    return worker


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--proposals", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=3, help="alternating bare/Deputy throughput rounds")
    args = parser.parse_args()
    n, (redis_process, url) = args.proposals, start_redis()
    env = {**os.environ, "REDIS_URL": url, "PYTHONPATH": str(ROOT), "DEPUTY_LOG_LEVEL": "ERROR"}
    settings = settings_with({"REDIS_URL": url})
    bare_rates: list[float] = []
    dep_rates: list[float] = []
    try:
        both = [start_process([python(), "-c", BARE_WORKER, url], env), *deputy_worker(url, env)]
        rtt, revise = asyncio.run(latency_round(url, settings, n))
        stop(both)
        for _ in range(args.rounds):
            bare = [start_process([python(), "-c", BARE_WORKER, url], env)]
            time.sleep(1.5)
            bare_rates.append(bare_throughput(url, n))
            stop(bare)
            worker = deputy_worker(url, env)
            dep_rates.append(asyncio.run(throughput_round(url, settings, n)))
            stop(worker)
    finally:
        redis_process.terminate()
        redis_process.wait()
    report(n, rtt, revise, bare_rates, dep_rates)


def report(n: int, rtt: list[float], revise: list[float], bare: list[float], dep: list[float]) -> None:
    """Latency comes in pairs and throughput rounds alternate, so each ratio compares the same machine conditions."""
    med = statistics.median
    print(f"proposals revised: {n} per round (1 worker, offline model, feedback “{FEEDBACK}”)")
    print(f"bare RQ no-op round trip: {summary(rtt)}")
    print(f"deputy /revise -> revised card: {summary(revise)}")
    print(
        f"bare jobs/s {_list(bare)} (median {med(bare):.1f}); deputy revisions/s {_list(dep)} (median {med(dep):.1f})"
    )
    p50, bare_p50 = pct(revise, 50), pct(rtt, 50)
    print(
        f"ratio /revise -> revised card p50 / bare round trip p50 = {p50 / bare_p50:.2f}  [{ms(p50)} vs {ms(bare_p50)}]"
    )
    paired = [r / b for b, r in zip(rtt, revise, strict=True)]
    print(f"ratio per pair (a revision / the bare round trip just before it): median {med(paired):.2f}")
    rounds = [d / b for d, b in zip(dep, bare, strict=True)]
    print(f"ratio revisions/s / bare jobs/s = {med(rounds):.2f} median of rounds {_list(rounds, 2)}")


def _list(values: list[float], digits: int = 1) -> str:
    return "[" + ", ".join(f"{v:.{digits}f}" for v in values) + "]"


if __name__ == "__main__":
    main()
