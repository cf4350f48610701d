"""The core loop's speed against bare RQ, measured in one run on one Redis.

Deputy: N tasks through the real path (console inbound → coordinator → RQ → `deputy worker` → proposal;
approve → RQ → worker → SMTP sink → applied), one at a time for latency, all at once for throughput, with 1
and 2 workers. Baselines: a no-op RQ job on the same Redis with RQ's forking `Worker` (the figure of record)
and with RQ's non-forking `SimpleWorker` (the fastest RQ gets, without a fork's isolation).
Run: `make bench` (or `python -m bench.pipeline --tasks 200`)."""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import time
from typing import Any

from aiosmtpd.controller import Controller
from redis import Redis
from rq import Queue
from rq.serializers import JSONSerializer

from bench.common import ROOT, ms, pct, python, start_process, start_redis, stop, summary, wait
from bot.wiring import Runtime, build_runtime
from config.settings import Settings, settings_with
from memory.embedded import free_port
from orchestrator.commands import Inbound
from orchestrator.model import Actor, ChatRef

JOBS_PER_TASK = 2  # run (draft) + apply
CHAT = ChatRef("console", "bench")
ME = Actor("console", "bench", "bench")
BARE_WORKER = (
    "import sys; from redis import Redis; from rq import {cls}, Queue; from rq.serializers import JSONSerializer;"
    "c = Redis.from_url(sys.argv[1]); "
    "{cls}([Queue('bare', connection=c, serializer=JSONSerializer)], connection=c, serializer=JSONSerializer)"
    ".work(logging_level='ERROR')"
)
BARE = {"bare": "Worker", "simple": "SimpleWorker"}  # forking (the baseline of record), non-forking


class Sink:
    def __init__(self) -> None:
        self.count = 0

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.count += 1
        return "250 OK"


def bare_round_trips(url: str, n: int) -> list[float]:
    queue = Queue("bare", connection=Redis.from_url(url), serializer=JSONSerializer)
    times = []
    for _ in range(n):
        start = time.perf_counter()
        job = queue.enqueue("bench.noop.noop")
        wait(lambda: job.get_status(refresh=True) == "finished", 30)  # noqa: B023 (used at once)
        times.append(time.perf_counter() - start)
    return times


def bare_throughput(url: str, n: int) -> float:
    connection = Redis.from_url(url)
    queue = Queue("bare", connection=connection, serializer=JSONSerializer)
    start = time.perf_counter()
    jobs = [queue.enqueue("bench.noop.noop") for _ in range(n)]
    wait(
        lambda: (
            all(j.get_status(refresh=True) == "finished" for j in jobs[-5:])
            and queue.count == 0
            and queue.finished_job_registry.count >= n
        ),
        120,
        poll=0.005,
    )
    return n / (time.perf_counter() - start)


async def submit(rt: Runtime, i: int, text: str) -> None:
    await rt.coordinator.receive(Inbound(actor=ME, chat=CHAT, text=text, event_id=f"bench-{time.time_ns()}-{i}"))


async def until(rt: Runtime, task_ids: list[str], status: str, limit_s: float = 300) -> None:
    """One SMISMEMBER on the status index per poll, so watching 200 tasks costs what watching one does."""
    deadline = time.monotonic() + limit_s
    pending = list(task_ids)
    poll = 0.001 if len(task_ids) == 1 else 0.01
    while pending:
        if time.monotonic() > deadline:
            raise TimeoutError(f"{len(pending)} tasks never reached {status}")
        flags = await rt.redis.smismember(f"deputy:idx:task:{status}", pending)
        pending = [t for t, there in zip(pending, flags, strict=True) if not there]
        if pending:
            await asyncio.sleep(poll)


async def new_task_ids(rt: Runtime, before: set[str]) -> list[str]:
    ids: set[str] = set()
    for status in ("received", "running", "proposed"):
        ids |= set(await rt.store.ids("task", status))
    return sorted(ids - before)


async def latencies(rt: Runtime, n: int) -> tuple[list[float], list[float]]:
    to_proposal, to_applied = [], []
    for i in range(n):
        start = time.perf_counter()
        await submit(rt, i, f"email client{i}@example.com about invoice {i}")
        [task_id] = await new_task_ids(rt, set())  # earlier tasks are done; a fast worker may have drafted it
        await until(rt, [task_id], "proposed")
        to_proposal.append(time.perf_counter() - start)
        task = await rt.store.get_task(task_id)
        assert task and task.proposal_id
        start = time.perf_counter()
        await submit(rt, i, f"/approve {task.proposal_id}")
        await until(rt, [task_id], "done")
        to_applied.append(time.perf_counter() - start)
    return to_proposal, to_applied


async def throughput(rt: Runtime, n: int) -> float:
    start = time.perf_counter()
    await asyncio.gather(*(submit(rt, i, f"email client{i}@example.com about batch {i}") for i in range(n)))
    task_ids = sorted(await new_task_ids(rt, set()))
    await until(rt, task_ids, "proposed")
    proposals = [(await rt.store.get_task(t)).proposal_id for t in task_ids]  # type: ignore[union-attr]
    await asyncio.gather(*(submit(rt, i, f"/approve {p}") for i, p in enumerate(proposals)))
    await until(rt, task_ids, "done")
    return n / (time.perf_counter() - start)


def fresh(url: str, workers: int) -> None:
    """Empty Redis between rounds; the workers' liveness keys come back within a beat."""
    Redis.from_url(url).flushall()
    wait(lambda: len(Redis.from_url(url).keys("deputy:worker:*")) == workers, 10)


async def deputy_latency(url: str, settings: Settings, n: int) -> tuple[list[float], list[float]]:
    rt = build_runtime(settings, url)
    try:
        fresh(url, 1)
        await latencies(rt, 5)  # warm up
        fresh(url, 1)
        before = aof_size(url)
        done = await latencies(rt, n)
        AOF_PER_TASK.append((aof_size(url) - before) / n)
        return done
    finally:
        await rt.close()


AOF_PER_TASK: list[float] = []


def aof_size(url: str) -> int:
    """The AOF's size now (Redis's own count; a rewrite would shrink it, none happens in one latency run)."""
    return int(Redis.from_url(url).info("persistence").get("aof_current_size", 0))


async def deputy_throughput(url: str, settings: Settings, n: int, workers: int) -> float:
    rt = build_runtime(settings, url)
    try:
        fresh(url, workers)
        return await throughput(rt, n)
    finally:
        await rt.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tasks", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=3, help="alternating bare/Deputy throughput rounds")
    args = parser.parse_args()
    n = args.tasks
    redis_process, url = start_redis()
    sink = Sink()
    smtp_port = free_port()
    controller = Controller(sink, hostname="127.0.0.1", port=smtp_port)
    controller.start()
    env = {
        **os.environ,
        "REDIS_URL": url,
        "DEPUTY_SMTP_URL": f"smtp://127.0.0.1:{smtp_port}",
        "DEPUTY_EMAIL_FROM": "bench@example.com",
        "PYTHONPATH": str(ROOT),
        "DEPUTY_LOG_LEVEL": "ERROR",
        "DEPUTY_UNDO_SECONDS": "0",
    }
    settings = settings_with(
        {k: env[k] for k in ("REDIS_URL", "DEPUTY_SMTP_URL", "DEPUTY_EMAIL_FROM", "DEPUTY_UNDO_SECONDS")}
    )
    results: dict[str, Any] = {"bare_rtt": [], "simple_rtt": [], "dep_prop": [], "dep_applied": []}
    try:
        for workers in (1, 2):
            for key in ("bare", "simple", "dep"):
                results[f"{key}_{workers}"] = []
            for _ in range(args.rounds):
                for kind in BARE:
                    results[f"{kind}_{workers}"].append(bare_round(url, env, kind, workers, n, results))
                results[f"dep_{workers}"].append(deputy_round(url, env, settings, workers, n, results))
    finally:
        controller.stop()
        redis_process.terminate()
        redis_process.wait()
    report(n, results, sink.count)


def bare_round(url: str, env: dict[str, str], kind: str, workers: int, n: int, results: dict[str, Any]) -> float:
    """One baseline round (RQ's `kind` of worker, no-op jobs); the first one-worker round also times round trips."""
    code = BARE_WORKER.format(cls=BARE[kind])
    bare = [start_process([python(), "-c", code, url], env) for _ in range(workers)]
    try:
        time.sleep(1.5)
        bare_round_trips(url, 10)
        if workers == 1 and not results[f"{kind}_rtt"]:
            results[f"{kind}_rtt"] = bare_round_trips(url, n)
        return bare_throughput(url, n * JOBS_PER_TASK)
    finally:
        stop(bare)


def deputy_round(
    url: str, env: dict[str, str], settings: Settings, workers: int, n: int, results: dict[str, Any]
) -> float:
    deputy = [start_process([python(), "-m", "bot.cli", "worker"], env) for _ in range(workers)]
    try:
        wait(lambda: len(Redis.from_url(url).keys("deputy:worker:*")) == workers, 30)
        if workers == 1 and not results["dep_prop"]:
            results["dep_prop"], results["dep_applied"] = asyncio.run(deputy_latency(url, settings, n))
        return asyncio.run(deputy_throughput(url, settings, n, workers))
    finally:
        stop(deputy)


def report(n: int, r: dict[str, Any], emails: int) -> None:
    """Throughput rounds alternate the baselines and Deputy, so each ratio compares the same machine conditions."""
    med = statistics.median
    print(f"tasks: {n} (jobs per task: {JOBS_PER_TASK}); emails received by the sink: {emails}")
    print(f"bare RQ no-op round trip (forking Worker): {summary(r['bare_rtt'])}")
    print(f"bare RQ no-op round trip (SimpleWorker, no fork): {summary(r['simple_rtt'])}")
    print(f"deputy submit -> proposal: {summary(r['dep_prop'])}")
    print(f"deputy approve -> applied: {summary(r['dep_applied'])}")
    if AOF_PER_TASK:
        print(f"AOF growth per task (latency run, tasks one at a time): {AOF_PER_TASK[0] / 1024:.1f} KB")
    for w in (1, 2):
        bare, simple, dep = r[f"bare_{w}"], r[f"simple_{w}"], r[f"dep_{w}"]
        print(
            f"{w} worker(s): bare jobs/s {_list(bare)} (median {med(bare):.1f}); SimpleWorker jobs/s "
            f"{_list(simple)} (median {med(simple):.1f}); deputy tasks/s {_list(dep)} (median {med(dep):.1f})"
        )
    for kind, label in (("bare", "forking"), ("simple", "non-forking")):
        _ratios(r, kind, label)


def _ratios(r: dict[str, Any], kind: str, label: str) -> None:
    base, proposal, applied = pct(r[f"{kind}_rtt"], 50), pct(r["dep_prop"], 50), pct(r["dep_applied"], 50)
    target = kind == "bare"
    print(f"-- against RQ's {label} no-op worker" + (" (the targets)" if target else " (reported)"))
    print(
        f"ratio submit->proposal p50 / (bare round trip x {JOBS_PER_TASK}) = {proposal / (base * JOBS_PER_TASK):.2f}"
        + ("  (target <= 1.0)" if target else "")
        + f"  [{ms(proposal)} vs {ms(base * JOBS_PER_TASK)}]"
    )
    print(
        f"ratio approve->applied p50 / bare round trip = {applied / base:.2f}"
        + ("  (target <= 1.5)" if target else "")
        + f"  [{ms(applied)} vs {ms(base)}]"
    )
    rounds = [d / (b / JOBS_PER_TASK) for d, b in zip(r["dep_2"], r[f"{kind}_2"], strict=True)]
    middle = statistics.median(rounds)
    print(
        f"ratio tasks/s (2 workers) / (bare jobs/s / {JOBS_PER_TASK}) = {middle:.2f} median of rounds "
        f"{_list(rounds, 2)}" + ("  (target >= 1.0)" if target else "")
    )


def _list(values: list[float], digits: int = 1) -> str:
    return "[" + ", ".join(f"{v:.{digits}f}" for v in values) + "]"


if __name__ == "__main__":
    main()
