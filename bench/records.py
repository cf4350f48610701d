"""Records at size: `/who` at 10,000 clients with 100,000 linked events, and `deputy import`'s rows/s.

`/who <address>` runs the read side's `who_text` in-process on the real Redis adapters (the whole card: lookup
by key, the record, open work, timeline, sources); its baseline in the same run is a bare redis-py `HGET` of the
same record's data. The clients come from a 10,000-row CSV through the real import (`plan` + `apply`), timed
against a bare pipelined `HSET` of the same rows; then 100,000 timeline lines are linked to them (a tenth of
them to one busy client, the rest spread). Run: `python -m bench.records`."""

from __future__ import annotations

import asyncio
import os
import random
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bench.common import pct, start_redis, stop
from bot.imports import apply, plan
from bot.record_files import read
from bot.wiring import build_runtime
from config.settings import settings_with
from memory import keys
from memory.clients import RedisRecordBook
from orchestrator.record_views import who_text
from orchestrator.records import Schema

CLIENTS, LINKS, ASKS = 10_000, 100_000, 1_000
START = datetime(2026, 11, 3, 9, 0, tzinfo=UTC)


def csv_file(directory: Path) -> Path:
    rows = ["name,email,company,status,terms,tags"]
    rows += [
        f"Client {i},c{i}@firm{i % 2000}.example,Firm {i % 2000},active,net {30 + i % 3 * 15},t{i % 7}"
        for i in range(CLIENTS)
    ]
    path = directory / "clients.csv"
    path.write_text("\n".join(rows) + "\n")
    return path


async def timed_import(book: RedisRecordBook, path: Path) -> float:
    began = time.perf_counter()
    done = await plan(book, Schema(), read(path), path.name, START)
    await apply(book, done, path.name, START)
    assert len(await book.ids("client")) == CLIENTS
    return time.perf_counter() - began


async def bare_import(book: RedisRecordBook, rows: list[str]) -> float:
    began = time.perf_counter()
    pipe = book.redis.pipeline(transaction=False)
    for line in rows[1:]:
        pipe.hset("bare:rec:" + line.split(",", 1)[0], "data", line)
    await pipe.execute()
    return time.perf_counter() - began


async def link_all(book: RedisRecordBook) -> None:
    """The timeline lines as `link` writes them, pipelined a thousand at a time (setup, not measured)."""
    rng = random.Random(26)
    pipe = book.redis.pipeline(transaction=False)
    for n in range(LINKS):
        record = "c1" if n % 10 == 0 else f"c{rng.randrange(1, CLIENTS + 1)}"
        at, ref = START + timedelta(minutes=n), f"p{n}:0"
        pipe.zadd(keys.rec(f"tl:{record}"), {ref: at.timestamp()})
        line = f'{{"at": "{at.isoformat()}", "what": "email.send", "text": "Sent to someone", "ref": "{ref}"}}'
        pipe.hset(keys.rec(f"tlx:{record}"), ref, line)
        if n % 1000 == 999:
            await pipe.execute()
    await pipe.execute()


async def main() -> None:
    redis_process, url = start_redis()
    directory = Path(tempfile.mkdtemp(prefix="deputy-bench-records-"))
    runtime = build_runtime(settings_with({"REDIS_URL": url, "DEPUTY_DATA_DIR": str(directory)}), url)
    try:
        book, core = RedisRecordBook(runtime.redis), runtime.coordinator.core
        path = csv_file(directory)
        imported, bare = await timed_import(book, path), await bare_import(book, path.read_text().splitlines())
        await link_all(book)
        ids = {(await book.find(f"email:c{i}@firm{i % 2000}.example"))[0]: i for i in range(0, CLIENTS, 10)}
        asks = [next(iter(ids))] * (ASKS // 10) + random.Random(3).choices(list(ids), k=ASKS - ASKS // 10)
        who, base = [], []
        for record in asks:
            i = ids[record]
            t0 = time.perf_counter()
            await runtime.redis.hget(keys.rec(record), "data")
            t1 = time.perf_counter()
            card = await who_text(core, f"c{i}@firm{i % 2000}.example")
            t2 = time.perf_counter()
            assert card.startswith(f"Client {i} ("), card
            base.append(t1 - t0)
            who.append(t2 - t1)
        report(imported, bare, who, base)
    finally:
        await runtime.close()
        stop([redis_process])


def report(imported: float, bare: float, who: list[float], base: list[float]) -> None:
    print(f"load average {os.getloadavg()[0]:.2f}; {CLIENTS} clients, {LINKS} linked events, {ASKS} /who asks")
    print(f"import: {CLIENTS / imported:.0f} rows/s ({imported:.2f} s); bare HSET: {CLIENTS / bare:.0f} rows/s")
    print(f"ratio import rows/s / bare HSET rows/s = {bare / imported:.3f}")
    for q in (50, 99):
        print(f"/who p{q} {pct(who, q) * 1000:.2f} ms; bare HGET p{q} {pct(base, q) * 1000:.2f} ms")
    print(f"ratio /who p99 / bare HGET p99 = {pct(who, 99) / pct(base, 99):.2f}")
    print(f"ratio /who p50 / bare HGET p50 = {pct(who, 50) / pct(base, 50):.2f}")
    pairs = sorted(w / b for w, b in zip(who, base, strict=True))
    print(f"ratio per pair (a /who / the bare HGET just before it): median {pairs[len(pairs) // 2]:.2f}")


if __name__ == "__main__":
    asyncio.run(main())
