"""The working set: each chat's recent turns in Redis, kept for a day, so a follow-up like "send it to her
instead" can be understood from what was just said and drafted."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from redis.asyncio import Redis

from memory import keys
from memory.accounting import ModelAccounting

KEEP = 20
TTL_SECONDS = 24 * 3600


@dataclass(frozen=True)
class Turn:
    role: str  # "operator" or "deputy"
    text: str


class RedisWorkingSet:
    def __init__(self, redis: Redis) -> None:
        self.redis = redis

    async def add(self, chat: str, *turns: tuple[str, str]) -> None:
        """Turns (role, text) in the order they happened, in one round trip."""
        pipe = self.redis.pipeline(transaction=True)
        await self.add_on(pipe, chat, list(turns))
        await pipe.execute()

    async def add_on(self, pipe: Any, chat: str, turns: list[tuple[str, str]]) -> None:
        """Queue the turns on a transaction that carries other writes."""
        key = keys.memory(f"ws:{chat}")
        for role, text in turns:
            pipe.lpush(key, json.dumps({"role": role, "text": text[:2000]}))
        pipe.ltrim(key, 0, KEEP - 1)
        pipe.expire(key, TTL_SECONDS)

    @asynccontextmanager
    async def alongside(self, chat: str, account: Any) -> AsyncIterator[list[tuple[str, str]]]:
        """The turns the block adds are written in one transaction with the accounting of the free model calls
        made meanwhile (`account` is the LLM port's accounting): a draft on the built-in model makes one write
        for both instead of one each."""
        turns: list[tuple[str, str]] = []
        if not isinstance(account, ModelAccounting):
            yield turns
            if turns:
                await self.add(chat, *turns)
            return
        async with account.hold() as held:
            yield turns
            if turns:
                held.append(lambda pipe: self.add_on(pipe, chat, turns))

    async def recent(self, chat: str, n: int = 6) -> list[Turn]:
        """Oldest first."""
        raw = await self.redis.lrange(keys.memory(f"ws:{chat}"), 0, n - 1)
        return [Turn(**json.loads(item)) for item in reversed(raw)]
