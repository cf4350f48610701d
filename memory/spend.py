"""Model spend per local day, read from the model metrics every model call adds to (see memory/metrics.py)."""

from __future__ import annotations

from redis.asyncio import Redis

from memory.metrics import MODEL


class RedisSpend:
    def __init__(self, redis: Redis) -> None:
        self.redis = redis

    async def day(self, date: str) -> float:
        fields = await self.redis.hgetall(MODEL)
        return sum(float(v) for k, v in fields.items() if str(k).startswith(f"usd_day:{date}|"))
