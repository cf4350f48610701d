"""Ingress ack latency: signed platform requests at a fixed rate against `deputy serve`, and in the same run
against a bare aiohttp handler doing the same check and the same one fsynced Redis write (`bench/bare_ingress.py`).

Open loop: request i is sent at i/rate seconds whatever happened before, so a slow server shows up as
latency, not as a politely lower rate. Each request is a new message from the operator in its own chat, so
Deputy stores the request (one XADD, fsynced) before its 2xx, and does its full work behind the ack (dedupe,
task commit, "On it…" posted to a fake platform API, job enqueued; no worker runs, so tasks stay received and
are counted at the end).
Run: `python -m bench.ingress --kind slack` or `--kind telegram` (defaults: 2000 requests at 100 and 300 req/s)."""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import time
from collections.abc import Callable
from typing import Any

import aiohttp
from redis import Redis

from bench.common import ROOT, pct, python, start_process, start_redis, stop, wait
from memory.embedded import free_port
from tests.fakes import slack_api
from tests.fakes.telegram_api import OPERATOR_ID, TOKEN

SECRET = "bench-secret"
WARM_UP = 300
Request = tuple[str, bytes, dict[str, str]]


def telegram_request(port: int, i: int) -> Request:
    import json

    update = {
        "update_id": 1_000_000 + i,
        "message": {
            "message_id": i + 1,
            "date": int(time.time()),
            "chat": {"id": 50_000 + i, "type": "private", "first_name": "Sam"},
            "from": {"id": OPERATOR_ID, "is_bot": False, "first_name": "Sam"},
            "text": f"email jane@acme.com about invoice {i}",
        },
    }
    headers = {"X-Telegram-Bot-Api-Secret-Token": SECRET, "Content-Type": "application/json"}
    return f"http://127.0.0.1:{port}/telegram/webhook", json.dumps(update).encode(), headers


def slack_request(port: int, i: int) -> Request:
    payload = slack_api.event(text=f"email jane@acme.com about invoice {i}", channel=f"D{i:08d}")
    payload["event_id"] = f"EvBench{i:09d}"
    body, kind = slack_api.as_json(payload)
    headers = {**slack_api.signed(body, secret=SECRET), "Content-Type": kind}
    return f"http://127.0.0.1:{port}/slack/events", body.encode(), headers


KINDS: dict[str, Callable[[int, int], Request]] = {"telegram": telegram_request, "slack": slack_request}
FAKES = {"telegram": "tests.fakes.telegram_api", "slack": "tests.fakes.slack_api"}


async def load(make: Callable[[int], Request], n: int, rate: float) -> tuple[list[float], int]:
    latencies: list[float] = []
    errors = 0
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector) as http:

        async def one(i: int) -> None:
            nonlocal errors
            url, body, headers = make(i)
            start = time.perf_counter()
            try:
                async with http.post(url, data=body, headers=headers) as response:
                    await response.read()
                    ok = 200 <= response.status < 300
            except aiohttp.ClientError:
                ok = False
            latencies.append(time.perf_counter() - start)
            errors += 0 if ok else 1

        began = time.perf_counter()
        tasks = []
        for i in range(n):
            delay = began + i / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one(i)))
        await asyncio.gather(*tasks)
    return latencies, errors


def deputy_env(kind: str, redis_url: str, port: int, api_port: int) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DEPUTY_", "SLACK_", "TELEGRAM_"))}
    env.update(
        REDIS_URL=redis_url,
        DEPUTY_PORT=str(port),
        DEPUTY_LOG_LEVEL="ERROR",
        PYTHONPATH=str(ROOT),
        DEPUTY_DATA_DIR=str(ROOT / ".deputy-bench"),
    )
    if kind == "slack":
        env.update(
            SLACK_BOT_TOKEN=slack_api.BOT_TOKEN,
            SLACK_SIGNING_SECRET=SECRET,
            DEPUTY_SLACK_API_URL=f"http://127.0.0.1:{api_port}/api/",
            DEPUTY_OPERATORS=f"slack:{slack_api.OPERATOR}",
        )
    if kind == "telegram":
        env.update(
            TELEGRAM_BOT_TOKEN=TOKEN,
            DEPUTY_TELEGRAM_API_URL=f"http://127.0.0.1:{api_port}/bot",
            DEPUTY_TELEGRAM_MODE="webhook",
            DEPUTY_TELEGRAM_WEBHOOK_SECRET=SECRET,
            DEPUTY_OPERATORS=f"telegram:{OPERATOR_ID}",
        )
    return env


def ready(url: str, body: bytes, headers: dict[str, str]) -> Callable[[], bool]:
    def probe() -> bool:
        import urllib.error
        import urllib.request

        try:
            request = urllib.request.Request(url, data=body, headers=headers, method="POST")
            with urllib.request.urlopen(request, timeout=1) as response:
                return bool(response.status == 200)
        except (OSError, urllib.error.HTTPError):
            return False

    return probe


def pin(*, serve: list[Any], rest: list[Any]) -> None:
    """On a machine with 2+ cores the server under test gets a core of its own, and the load generator, Redis
    and the fake platform API share the other: bare and Deputy are measured the same way, and the client's
    own work does not land in the server's latency."""
    cores = sorted(os.sched_getaffinity(0))
    if len(cores) < 2:
        return
    for process in serve:
        os.sched_setaffinity(process.pid, {cores[-1]})
    for process in rest:
        os.sched_setaffinity(process.pid, set(cores[:-1]))
    os.sched_setaffinity(0, set(cores[:-1]))


def report(label: str, latencies: list[float], errors: int) -> dict[str, float]:
    p50, p99 = pct(latencies, 50) * 1000, pct(latencies, 99) * 1000
    print(f"  {label:<8} p50 {p50:6.2f} ms  p99 {p99:6.2f} ms  max {max(latencies) * 1000:7.2f} ms  errors {errors}")
    return {"p50": p50, "p99": p99, "errors": errors}


def run(kind: str, n: int, rates: list[float], rounds: int) -> None:
    redis, redis_url = start_redis()
    api_port, deputy_port, bare_port = free_port(), free_port(), free_port()
    processes = [redis]
    try:
        api = start_process([python(), "-m", FAKES[kind], str(api_port)], os.environ.copy())
        serve = start_process([python(), "-m", "bot.cli", "serve"], deputy_env(kind, redis_url, deputy_port, api_port))
        bare_args = [python(), "-m", "bench.bare_ingress", kind, str(bare_port), SECRET, redis_url]
        bare = start_process(bare_args, os.environ.copy())
        processes += [api, serve, bare]
        pin(serve=[serve, bare], rest=[redis, api])
        make = KINDS[kind]
        wait(ready(*make(deputy_port, 10_000_000)), 60, poll=0.2)
        wait(ready(*make(bare_port, 10_000_001)), 30, poll=0.2)
        print(f"{kind}: {n} requests per run, open loop, {rounds} alternating rounds; client-side ack latency")
        offset, to_deputy = 0, [1]  # the readiness probe above was one request

        def measure(port: int, count: int, rate: float) -> tuple[list[float], int]:
            nonlocal offset
            result = asyncio.run(load(lambda i: make(port, offset + i), count, rate))
            offset += count
            to_deputy[0] += count if port == deputy_port else 0
            return result

        for port in (bare_port, deputy_port):
            measure(port, WARM_UP, 100)  # connections, first-call imports and caches: not what is measured
        for rate in rates:
            print(f"rate {rate:.0f} req/s")
            p99s: dict[str, list[float]] = {"bare": [], "deputy": []}
            pooled: dict[str, list[float]] = {"bare": [], "deputy": []}
            errors = 0
            for i in range(rounds):
                sides = (("bare", bare_port), ("deputy", deputy_port))
                for label, port in sides if i % 2 == 0 else sides[::-1]:  # ABBA: what one leaves, both get
                    latencies, failed = measure(port, n, rate)
                    p99s[label].append(report(label, latencies, failed)["p99"])
                    pooled[label] += latencies
                    errors += failed if label == "deputy" else 0
            bare_p99, deputy_p99 = statistics.median(p99s["bare"]), statistics.median(p99s["deputy"])
            print(
                f"  median p99: bare {bare_p99:.2f} ms, deputy {deputy_p99:.2f} ms; ratio {deputy_p99 / bare_p99:.2f} "
                f"(target <= 1.5); deputy p99 < 100 ms: {'yes' if deputy_p99 < 100 else 'NO'}; deputy non-2xx: {errors}"
            )
            whole = {label: pct(found, 99) * 1000 for label, found in pooled.items()}
            print(
                f"  p99 of all rounds' acks: bare {whole['bare']:.2f} ms, deputy {whole['deputy']:.2f} ms; "
                f"ratio {whole['deputy'] / whole['bare']:.2f}"
            )
        time.sleep(2)  # the work behind the last acks
        tasks = Redis.from_url(redis_url).scard("deputy:idx:task:received")
        print(f"tasks created behind the acks: {tasks} of {to_deputy[0]} requests to Deputy (warm-up included)")
    finally:
        stop(processes)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--kind", choices=sorted(KINDS), default="slack")
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--rates", default="100,300")
    parser.add_argument("--rounds", type=int, default=3)
    args: Any = parser.parse_args()
    run(args.kind, args.requests, [float(r) for r in args.rates.split(",")], args.rounds)


if __name__ == "__main__":
    main()
