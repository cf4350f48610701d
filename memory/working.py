"""The working set: each chat's recent turns in Redis, kept for a day, so a follow-up like "send it to her
instead" can be understood from what was just said and drafted."""

from __future__ import annotations

import json
from dataclasses import dataclass

from redis.asyncio import Redis

from memory import keys

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
        key = keys.memory(f"ws:{chat}")
        pipe = self.redis.pipeline(transaction=True)
        for role, text in turns:
            pipe.lpush(key, json.dumps({"role": role, "text": text[:2000]}))
        pipe.ltrim(key, 0, KEEP - 1)
        pipe.expire(key, TTL_SECONDS)
        await pipe.execute()

    async def recent(self, chat: str, n: int = 6) -> list[Turn]:
        """Oldest first."""
        raw = await self.redis.lrange(keys.memory(f"ws:{chat}"), 0, n - 1)
        return [Turn(**json.loads(item)) for item in reversed(raw)]
