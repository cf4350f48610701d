"""The scheduler's Redis stores keep their promises across processes: a flag flips once, a digest date is
remembered, the cursor and the first-start time hold."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from bot.wiring import Runtime
from memory.digests import RedisDigestBook
from memory.liveness import RedisLiveness


async def test_alert_flags_flip_once_under_concurrency(runtime: Runtime) -> None:
    live = RedisLiveness(runtime.redis)
    raised = await asyncio.gather(*(live.flag("channel:slack", True) for _ in range(10)))
    assert sum(raised) == 1
    cleared = await asyncio.gather(*(live.flag("channel:slack", False) for _ in range(10)))
    assert sum(cleared) == 1
    for ok in (False, False, False):
        await live.record("slack", ok)
    assert await live.failures("slack") == 3
    await live.record("slack", True)
    assert await live.failures("slack") == 0


async def test_digest_book_remembers(runtime: Runtime) -> None:
    book = RedisDigestBook(runtime.redis)
    first = datetime(2026, 11, 3, 7, tzinfo=UTC)
    assert await book.since(first) == first
    assert await book.since(datetime(2026, 11, 4, tzinfo=UTC)) == first  # set once
    assert not await book.sent("2026-11-03")
    await book.mark_sent("2026-11-03")
    assert await book.sent("2026-11-03")
    await book.save("d1", [("p1", 2)])
    assert await book.entries("d1") == [("p1", 2)] and await book.entries("nope") == []
    await book.advance("1700000000000-3")
    assert await book.cursor() == "1700000000000-3"
