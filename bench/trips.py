"""Redis round trips and fsynced writes per draft job and per apply job, counted on the client side.

Every send on a Redis connection is one round trip (a pipeline or a transaction is one); a round trip that
carries at least one write is one fsync under `appendfsync always` (Redis fsyncs once per pass of its event
loop, before it answers). Each job runs through the worker class `deputy worker` uses, in this process, with
the counter on; an empty burst (no job) is counted too and subtracted, so what is left is the job's own cost.
Run: `python -m bench.trips`."""

from __future__ import annotations

import asyncio
import re
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import redis.asyncio.connection as async_connection
import redis.connection as sync_connection
from aiosmtpd.controller import Controller
from redis import Redis
from rq import SimpleWorker

from agents import runtime
from agents.queue import rq_queue
from bench.common import start_redis
from bench.pipeline import Sink
from bot.wiring import build_runtime
from config.settings import Settings, settings_with
from memory.embedded import free_port
from orchestrator.commands import Inbound
from orchestrator.model import Actor, ChatRef

NAME = re.compile(rb"\*\d+\r\n\$\d+\r\n([A-Za-z]+)\r\n")
READS = {
    b"GET", b"MGET", b"HGET", b"HMGET", b"HGETALL", b"HEXISTS", b"EXISTS", b"SMEMBERS", b"SISMEMBER",
    b"SMISMEMBER", b"SCARD", b"LRANGE", b"LLEN", b"ZRANGE", b"ZRANGEBYSCORE", b"ZCARD", b"ZSCORE", b"XRANGE",
    b"XREVRANGE", b"XREAD", b"PING", b"TYPE", b"TTL", b"INFO", b"CLIENT", b"SCAN", b"WATCH", b"UNWATCH",
    b"SCRIPT", b"HELLO", b"SELECT", b"SUBSCRIBE", b"KEYS",
}  # fmt: skip
CHAT = ChatRef("console", "trips")
ME = Actor("console", "trips", "trips")


class Count:
    def __init__(self) -> None:
        self.trips: Counter[str] = Counter()
        self.writes: Counter[str] = Counter()
        self.commands: Counter[bytes] = Counter()
        self.sequence: list[tuple[str, list[bytes]]] = []

    def saw(self, side: str, packed: Any) -> None:
        blob = b"".join(packed) if isinstance(packed, list | tuple) else bytes(packed)
        names = [n.upper() for n in NAME.findall(blob)]
        self.trips[side] += 1
        self.sequence.append((side, names))
        self.commands.update(names)
        if any(n not in READS for n in names):
            self.writes[side] += 1


@contextmanager
def counting(count: Count) -> Iterator[None]:
    """Patch both redis-py connection classes' send so each send is counted (sync: RQ; async: Deputy)."""
    sync_send = sync_connection.AbstractConnection.send_packed_command
    async_send = async_connection.AbstractConnection.send_packed_command

    def sync_counted(self: Any, command: Any, check_health: bool = True) -> None:
        count.saw("rq (sync)", command)
        sync_send(self, command, check_health)  # type: ignore[no-untyped-call]

    async def async_counted(self: Any, command: Any, check_health: bool = True) -> None:
        count.saw("deputy (async)", command)
        await async_send(self, command, check_health)

    sync_connection.AbstractConnection.send_packed_command = sync_counted  # type: ignore[method-assign]
    async_connection.AbstractConnection.send_packed_command = async_counted  # type: ignore[method-assign]
    try:
        yield
    finally:
        sync_connection.AbstractConnection.send_packed_command = sync_send  # type: ignore[method-assign]
        async_connection.AbstractConnection.send_packed_command = async_send  # type: ignore[method-assign]


def worker_factory() -> Callable[[Redis], Any]:
    """The in-process worker class `deputy worker` runs jobs with, if it has one; RQ's SimpleWorker otherwise."""
    from bot import worker

    cls = getattr(worker, "WarmWorker", SimpleWorker)
    make = getattr(worker, "job_worker", None)
    if make is not None:
        return lambda connection: make(connection, "trips")
    return lambda connection: cls(
        [rq_queue(connection)], connection=connection, serializer=rq_queue(connection).serializer
    )


def burst(url: str) -> Count:
    connection = _connect(url)
    make = worker_factory()
    count = Count()
    with counting(count):
        make(connection).work(burst=True, logging_level="ERROR")
    return count


def _connect(url: str) -> Redis:
    """The worker's RQ client where there is one (RESP2, no client-info round trips)."""
    from memory import connections

    connect = getattr(connections, "sync_redis", None)
    return connect(url) if connect is not None else Redis.from_url(url)


def job_cost(url: str, empty: Count) -> Count:
    full = burst(url)
    for field in ("trips", "writes", "commands"):
        getattr(full, field).subtract(getattr(empty, field))
    return full


def settings_for(url: str, smtp_port: int) -> Settings:
    return settings_with(
        {
            "REDIS_URL": url,
            "DEPUTY_SMTP_URL": f"smtp://127.0.0.1:{smtp_port}",
            "DEPUTY_EMAIL_FROM": "b@example.com",
            "DEPUTY_UNDO_SECONDS": "0",
        }
    )


async def submit(settings: Settings, text: str) -> str:
    """Send `text` as the operator; the id of the newest proposal afterwards (for /approve)."""
    rt = build_runtime(settings)
    try:
        await rt.coordinator.receive(Inbound(actor=ME, chat=CHAT, text=text, event_id=f"trips-{time.time_ns()}"))
        pending = await rt.store.ids("proposal", "pending")
        return pending[-1] if pending else ""
    finally:
        await rt.close()


def report(what: str, count: Count) -> None:
    trips, writes = sum(count.trips.values()), sum(count.writes.values())
    sides = ", ".join(
        f"{side}: {count.trips[side]} trips / {count.writes[side]} writes" for side in sorted(count.trips)
    )
    print(f"{what}: {trips} round trips, {writes} fsynced writes  ({sides})")
    print("   commands: " + " ".join(f"{n.decode()}×{c}" for n, c in count.commands.most_common() if c))
    if "-v" in sys.argv:
        for side, names in count.sequence:
            print(f"     {side:15} {' '.join(n.decode() for n in names)[:150]}")


def one_task(settings: Settings, url: str, empty: Count | None) -> tuple[Count, Count]:
    """Draft one task and apply it, each job counted (less `empty`, the cost of a burst with no job)."""
    none = empty or Count()
    asyncio.run(submit(settings, f"email client{time.time_ns()}@example.com about invoice 1"))
    draft = job_cost(url, none)
    proposal = asyncio.run(submit(settings, "/status"))
    asyncio.run(submit(settings, f"/approve {proposal}"))
    return draft, job_cost(url, none)


def main() -> None:
    process, url = start_redis()
    smtp_port = free_port()
    controller = Controller(Sink(), hostname="127.0.0.1", port=smtp_port)
    controller.start()
    settings = settings_for(url, smtp_port)
    try:
        runtime.install(lambda: build_runtime(settings))
        one_task(settings, url, None)  # warm-up: imports, scripts loaded, first connections
        empty = burst(url)
        draft, apply = one_task(settings, url, empty)
        report("draft (run job)", draft)
        report("apply (apply job)", apply)
        report("empty burst (subtracted)", empty)
    finally:
        controller.stop()
        process.terminate()
        process.wait()


if __name__ == "__main__":
    main()
