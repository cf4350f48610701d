"""Reading the append-only ledger (a Redis Stream). Writes happen only inside `RedisStore.commit`."""

from __future__ import annotations

from collections.abc import AsyncIterator

from redis.asyncio import Redis

from memory import codec, keys
from memory.streams import range_after, read_after
from orchestrator.events import Event


class RedisLedger:
    def __init__(self, redis: Redis) -> None:
        self.redis = redis

    async def entries(self, *, after: str = "0", count: int = 1000) -> list[tuple[str, dict[str, str]]]:
        return await range_after(self.redis, keys.LEDGER, after, count=count)

    async def read(self, *, after: str = "0", count: int = 1000) -> list[tuple[str, Event]]:
        return [(i, codec.event_from_fields(f)) for i, f in await self.entries(after=after, count=count)]

    async def all_events(self) -> AsyncIterator[Event]:
        after = "0"
        while batch := await self.read(after=after):
            for _entry_id, event in batch:
                yield event
            after = batch[-1][0]

    async def follow(self, *, after: str = "$", block_ms: int = 5000) -> AsyncIterator[tuple[str, dict[str, str]]]:
        """Yield entries as they are appended, forever; `after='0'` replays from the start first."""
        last = after
        while True:
            for entry_id, fields in await read_after(self.redis, keys.LEDGER, last, block_ms=block_ms):
                last = entry_id
                yield entry_id, fields
