"""The ingress at a clean stop: what has begun finishes, what waits its turn stays stored for the next start,
and the stop does not wait for a backlog however long (a real redis-server)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

from aiohttp import web
from redis.asyncio import Redis

from bot.ingress import AT_ONCE, DRAIN_S, Ingress
from memory.inbox import Entry, RedisInbox


async def test_a_stop_finishes_begun_work_and_leaves_the_backlog_stored(redis_url: str) -> None:
    redis = Redis.from_url(redis_url)
    ingress, gate, handled = Ingress(RedisInbox(redis)), asyncio.Event(), list[str]()

    async def slow(entry: Entry) -> None:
        await gate.wait()
        handled.append(entry.fields["n"])

    ingress.handle("x", slow)
    life: AsyncIterator[None] = ingress.lifespan(web.Application())
    await anext(life)
    backlog = AT_ONCE + 8
    for n in range(backlog):
        await ingress.accept("x", {"n": str(n)})
    await asyncio.sleep(0.1)  # the first AT_ONCE have begun; the rest wait their turn

    began = time.monotonic()
    stopping = asyncio.create_task(anext(life, None))
    await asyncio.sleep(0.1)
    gate.set()
    await stopping
    assert time.monotonic() - began < DRAIN_S
    assert len(handled) == AT_ONCE  # begun work finished
    left = await RedisInbox(redis).waiting(0, count=backlog)
    assert sorted(int(e.fields["n"]) for e in left) == list(range(AT_ONCE, backlog))  # the rest is still stored

    after, again = Ingress(RedisInbox(redis)), list[str]()

    async def fast(entry: Entry) -> None:
        again.append(entry.fields["n"])

    after.handle("x", fast)
    assert await after.sweep() == backlog - AT_ONCE  # at the next start, at once (not only once 30 s old)
    await asyncio.wait(set(after.working.values()))
    assert sorted(map(int, again)) == list(range(AT_ONCE, backlog))
    assert await RedisInbox(redis).count() == 0 and await after.sweep() == 0
    await redis.aclose()
