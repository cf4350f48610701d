"""Idempotency records of applied actions, keyed `proposal_id:action_index`, kept for good (they are small)."""

from __future__ import annotations

from datetime import UTC, datetime

from redis.asyncio import Redis

from memory import keys
from orchestrator.ports import ActionRecord


class RedisActionRecords:
    def __init__(self, redis: Redis) -> None:
        self.redis = redis

    async def begin(self, key: str) -> ActionRecord | None:
        name = keys.action(key)
        if await self.redis.hsetnx(name, "intent", datetime.now(UTC).isoformat()):
            return None
        outcome = await self.redis.hget(name, "outcome")
        return ActionRecord(key, str(outcome) if outcome is not None else None)

    async def finish(self, key: str, outcome: str) -> None:
        await self.redis.hset(keys.action(key), "outcome", outcome)

    async def forget(self, key: str) -> None:
        await self.redis.delete(keys.action(key))
