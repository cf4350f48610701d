"""The inbox: new mail → card, and a backlog's triage rate, against a real IMAP server (pymap, its own process).

1. New mail → card, with IDLE: from just before an APPEND of an email that needs a reply to the card in the chat
   (the console stream: IDLE notice, fetch, store, triage, `EmailReceived`, task, `deputy worker` drafting with the
   offline model, the card). Also to the `EmailReceived` (triaged, no worker). Baseline in the same run: a bare
   aioimaplib client in IDLE on another folder of the same server, from just before the same APPEND to its EXISTS
   notice. Runs alternate (bare, Deputy) so both see the same load. Deputy runs as `deputy up` runs it: `deputy
   serve` and `deputy worker` in processes of their own. Target ≤ 2×. Beside them, in the same rounds, the floor
   (bench/inbox_floor.py): a process that only fetches the email after the same notice, writes it once and writes
   a card; and the floor with the MIME parse. What Deputy's ratio has above the floor's is Deputy's own work.
2. Backlog: N emails waiting at first connect; the rate at which one Deputy triages them (each stored, triaged,
   recorded; half need a reply: timed until each of those has its task too). Baseline: a bare client fetching
   the same N with BODY.PEEK.
Run: `python -m bench.inbox [--runs 30] [--backlog 500] [--server pymap|dovecot]` (Dovecot where installed: it tells
an IDLE of new mail half a second after it came, so there the notice, not Deputy, is the time)."""

from __future__ import annotations

import argparse
import asyncio
import os
import time
from typing import Any

import aioimaplib
from redis.asyncio import Redis

from bench.common import ms, pct, python, ready, start_process, start_redis, stop, wait
from bench.inbox_floor import card_stream
from bot.web import deputy_app
from bot.wiring import build_runtime
from config.settings import settings_with
from memory import keys
from memory.embedded import free_port
from tests.conftest import serve
from tests.imap_server import ImapServer, email
from tests.imap_server import running as imap_running


async def bare_idle(server: ImapServer, appender: aioimaplib.IMAP4, n: int) -> float:
    """One APPEND → the EXISTS notice a bare client in IDLE gets."""
    watcher = await server.client()
    await watcher.select("BARE")
    idle = await watcher.idle_start(timeout=60)
    start = time.perf_counter()
    await appender.append(email(message_id=f"<bare{n}@bench.example>"), mailbox="BARE")
    while True:
        pushed = await watcher.wait_server_push(timeout=10)
        if any(b"EXISTS" in line for line in pushed if isinstance(line, bytes)):
            break
    took = time.perf_counter() - start
    watcher.idle_done()
    await asyncio.wait_for(idle, 10)
    await watcher.logout()
    return took


async def to_card(redis: Redis, appender: aioimaplib.IMAP4, n: int) -> tuple[float, float]:
    """One APPEND → `EmailReceived` in the ledger, and → the card in the console chat."""
    triaged, card = await _appended(
        redis, appender, "DEPUTY", n, [(keys.LEDGER, (b"type", b"EmailReceived")), (keys.console("local"), CARD)]
    )
    return triaged, card


async def to_floor(redis: Redis, appender: aioimaplib.IMAP4, folder: str, n: int) -> float:
    """One APPEND → the floor process's card (bench/inbox_floor.py)."""
    [card] = await _appended(redis, appender, folder, n, [(card_stream(folder), CARD)])
    return card


CARD = (b"kind", b"card")


async def _appended(
    redis: Redis, appender: aioimaplib.IMAP4, folder: str, n: int, watches: list[tuple[str, tuple[bytes, bytes]]]
) -> list[float]:
    """One APPEND of an email that asks something → each watched stream's first entry with that field's value.
    The watches are sent to Redis before the APPEND, so the bench's own work after it is only reading their
    answers."""
    asks = email(message_id=f"<{folder}{n}@bench.example>", subject=f"Question {n}", body="Could you call me today?")
    start = [0.0]
    after = [await _last(redis, stream) for stream, _ in watches]
    found = [
        asyncio.create_task(_next(redis, s, a, field, start)) for (s, field), a in zip(watches, after, strict=True)
    ]
    await asyncio.sleep(0.05)  # the XREADs are waiting in Redis
    start[0] = time.perf_counter()
    await appender.append(asks, mailbox=folder)
    return [await watch for watch in found]


async def _last(redis: Redis, stream: str) -> Any:
    return (await redis.xrevrange(stream, count=1) or [("0-0", {})])[0][0]


async def _next(redis: Redis, stream: str, after: Any, field: tuple[bytes, bytes], start: list[float]) -> float:
    """Until the stream's first entry after `after` with that field's value (the card itself, not a "Drafting…"
    line before it)."""
    last = after
    while True:
        found: Any = await redis.xread({stream: last}, block=10_000, count=100)
        for _, entries in found or []:
            for entry_id, fields in entries:
                last = entry_id
                if fields.get(field[0]) == field[1]:
                    return time.perf_counter() - start[0]


FLOORS = {"FLOOR": ("floor, no parse", []), "FLOORPARSED": ("floor + MIME parse", ["--parse"])}
"""The floor processes' folders: each one's line in the figures and its arguments."""


async def latency(server: ImapServer, url: str, runs: int) -> None:
    await server.create("BARE", "DEPUTY", "Sent", *FLOORS)
    port = free_port()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("DEPUTY_")},
        "REDIS_URL": url,
        "DEPUTY_IMAP_URL": server.url("DEPUTY"),
        "DEPUTY_DATA_DIR": "/tmp/deputy-bench-inbox",
        "DEPUTY_PORT": str(port),
        "DEPUTY_LOG_LEVEL": "ERROR",
    }
    processes = [start_process([python(), "-m", "bot.cli", "worker"], env)]
    processes.append(start_process([python(), "-m", "bot.cli", "serve"], env))  # as `deputy up` runs it
    for folder, (_, parse) in FLOORS.items():
        processes.append(start_process([python(), "-m", "bench.inbox_floor", server.url(folder), url, *parse], env))
    wait(lambda: _workers(url) and ready(port), 60)
    redis = Redis.from_url(url)
    appender = await server.client()
    bare: list[float] = []
    triaged: list[float] = []
    cards: list[float] = []
    floors: dict[str, list[float]] = {folder: [] for folder in FLOORS}
    try:
        await asyncio.sleep(1)  # the folder's first catch-up and IDLE
        for n in range(runs + 2):
            b = await bare_idle(server, appender, n)
            t, c = await to_card(redis, appender, n)
            f = {folder: await to_floor(redis, appender, folder, n) for folder in FLOORS}
            if n >= 2:  # the first two warm the worker and the caches
                bare.append(b)
                triaged.append(t)
                cards.append(c)
                for folder, took in f.items():
                    floors[folder].append(took)
    finally:
        await appender.logout()
        await redis.aclose()
        stop(processes)
    base = pct(bare, 50)
    print(f"bare IDLE notice       p50 {ms(base)}  p95 {ms(pct(bare, 95))}")
    print(
        f"mail → EmailReceived   p50 {ms(pct(triaged, 50))}  p95 {ms(pct(triaged, 95))}  "
        f"{pct(triaged, 50) / base:.2f}× bare"
    )
    print(
        f"mail → card            p50 {ms(pct(cards, 50))}  p95 {ms(pct(cards, 95))}  {pct(cards, 50) / base:.2f}× bare"
    )
    for folder, times in floors.items():
        said = FLOORS[folder][0]
        print(f"{said:<22} p50 {ms(pct(times, 50))}  p95 {ms(pct(times, 95))}  {pct(times, 50) / base:.2f}× bare")


def _workers(url: str) -> bool:
    from redis import Redis as SyncRedis

    return bool(SyncRedis.from_url(url).keys("deputy:worker:*"))


async def backlog(server: ImapServer, url: str, n: int) -> None:
    await server.create("BACKLOG")
    mails = [
        email(message_id=f"<k{i}@bench.example>", body="Could you call me?" if i % 2 else "For the record.")
        for i in range(n)
    ]
    await server.append_many(mails, "BACKLOG")
    client = await server.client()
    await client.select("BACKLOG")
    start = time.perf_counter()
    for uid in range(101, 101 + n):
        await client.uid("fetch", str(uid), "(UID BODY.PEEK[]<0.262144>)")  # what Deputy fetches
    bare = n / (time.perf_counter() - start)
    await client.logout()
    redis = Redis.from_url(url)
    await redis.flushall()
    env = {"REDIS_URL": url, "DEPUTY_IMAP_URL": server.url("BACKLOG"), "DEPUTY_DATA_DIR": "/tmp/deputy-bench-inbox"}
    runtime = build_runtime(settings_with(env), url)
    start = time.perf_counter()
    runner = await serve(deputy_app(runtime), free_port())
    await _all_recorded(redis, n)
    rate = n / (time.perf_counter() - start)
    await runner.cleanup()
    await runtime.close()
    await redis.aclose()
    print(f"backlog of {n}: {rate:.0f} emails/s triaged (bare fetch {bare:.0f}/s: {rate / bare:.2f}×)")


async def _all_recorded(redis: Redis, n: int) -> None:
    """Polled every 20 ms: each email's triage is stored under its own key (memory/mail.py), and each that asks
    something (half) has its task (the ledger's event count)."""
    for _ in range(100_000):
        recorded = len([k async for k in redis.scan_iter("deputy:mail:msg:*", count=1000)])
        started = int(await redis.hget("deputy:metrics:events", "TaskSubmitted") or 0)
        if recorded >= n and started >= n // 2:
            return
        await asyncio.sleep(0.02)


async def main(runs: int, n: int, kind: str) -> None:
    redis, url = start_redis()
    try:
        with imap_running(kind) as server:
            print(f"load average {os.getloadavg()[0]:.2f}; {kind}; {runs} emails, backlog {n}")
            await latency(server, url, runs)
            await backlog(server, url, n)
    finally:
        stop([redis])


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--backlog", type=int, default=500)
    parser.add_argument("--server", choices=["pymap", "dovecot"], default="pymap")
    args = parser.parse_args()
    asyncio.run(main(args.runs, args.backlog, args.server))
