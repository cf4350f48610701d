"""A model call's spend and its `ModelCalled` ledger line, written together: one transaction, one round trip,
one fsync (the LLM port calls this after every call)."""

from __future__ import annotations

from redis.asyncio import Redis

from memory.spend import RedisSpend, Reservation, Usage
from memory.store import RedisStore
from orchestrator.events import Event


class ModelAccounting:
    def __init__(self, redis: Redis, spend: RedisSpend, store: RedisStore) -> None:
        self.redis, self.spend, self.store = redis, spend, store

    async def __call__(self, date: str, reservation: Reservation | None, usage: Usage, event: Event) -> None:
        pipe = self.redis.pipeline(transaction=True)
        await self.spend.settle_on(pipe, date, reservation, usage)
        await self.store.append_on(pipe, [event])
        await pipe.execute()
