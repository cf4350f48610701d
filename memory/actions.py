"""Idempotency records of applied actions, one Redis hash per attempt (`proposal_id:action_index`, then
`…#2` for an attempt the operator asked for), kept for good (they are small). Fields: `attempts` (how often a
worker began it), `handed_over` (when it passed its point of no return), `outcome`. A record written by an
older Deputy has `intent` instead, which counted as "may have been sent" then, and still does."""

from __future__ import annotations

from datetime import UTC, datetime

from redis.asyncio import Redis

from memory import faults, keys
from memory.codec import text
from orchestrator.ports import ActionRecord


class RedisActionRecords:
    def __init__(self, redis: Redis) -> None:
        self.redis = redis

    async def begin(self, key: str) -> ActionRecord | None:
        name = keys.action(key)
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.hgetall(name)
            pipe.hincrby(name, "attempts", 1)
            prior, _ = await pipe.execute()
        if not prior:
            return None
        outcome = prior.get("outcome")
        handed_over = "handed_over" in prior or "intent" in prior
        return ActionRecord(key, text(outcome) if outcome is not None else None, handed_over)

    async def handed_over(self, key: str) -> None:
        await self.redis.hset(keys.action(key), "handed_over", datetime.now(UTC).isoformat())
        faults.point("handed_over")

    async def finish(self, key: str, outcome: str) -> None:
        await self.redis.hset(keys.action(key), "outcome", outcome)

    async def forget(self, key: str) -> None:
        await self.redis.delete(keys.action(key))
