"""Reading a stream with a blocking XREAD on a real redis-server."""

from __future__ import annotations

from redis.asyncio import Redis

from memory.streams import read_after

KEY = "test:streams:late"


async def test_a_reply_later_than_the_read_timeout_is_an_empty_batch_and_the_next_read_goes_on(
    redis_url: str,
) -> None:
    """redis-py gives each reply 5 s by default; on a starved loop a blocking read's answer can come later than
    that. Here the timeout (50 ms) is shorter than the block (300 ms): the read is late, it says nothing, and the
    next read on the same client finds what was added meanwhile."""
    redis = Redis.from_url(redis_url, socket_timeout=0.05, decode_responses=True)
    try:
        await redis.delete(KEY)
        assert await read_after(redis, KEY, "0", block_ms=300) == []
        await redis.xadd(KEY, {"text": "hello"})
        assert [fields for _, fields in await read_after(redis, KEY, "0", block_ms=300)] == [{"text": "hello"}]
    finally:
        await redis.aclose()
