"""Which workers are alive (each beats a key that expires in seconds, see agents/maintenance.py), and how
deliveries to each chat platform are going, shared by every process."""

from __future__ import annotations

import time

from redis.asyncio import Redis

from memory import keys
from memory.faults import probe


async def alive_workers(redis: Redis) -> int:
    return len([key async for key in redis.scan_iter(match=keys.worker_alive("*"), count=100)])


CLEAR_EVERY_S = 1.0
"""A delivery that went through clears the platform's failure count at most this often from one process: a DEL
is a round trip per message sent, and the count only needs to fall back to 0 soon after the platform answers."""


class RedisLiveness:
    def __init__(self, redis: Redis) -> None:
        self.redis = redis
        self.cleared: dict[str, float] = {}
        """When this process last cleared each platform's failure count (monotonic seconds)."""

    async def workers(self) -> int:
        return await alive_workers(self.redis)

    async def storage(self) -> str:
        return await probe(self.redis)

    async def record(self, platform: str, ok: bool) -> None:
        key = keys.health(f"fails:{platform}")
        if not ok:
            self.cleared.pop(platform, None)  # the next delivery that goes through clears it at once
            await self.redis.incr(key)
            return
        now = time.monotonic()
        if now - self.cleared.get(platform, -CLEAR_EVERY_S) >= CLEAR_EVERY_S:
            self.cleared[platform] = now  # a DEL of a missing key writes nothing: no AOF bytes, no fsync
            await self.redis.delete(key)

    async def failures(self, platform: str) -> int:
        return int(await self.redis.get(keys.health(f"fails:{platform}")) or 0)

    async def flag(self, name: str, on: bool) -> bool:
        key = keys.health(f"flag:{name}")
        if on:
            return bool(await self.redis.set(key, 1, nx=True))
        return bool(await self.redis.delete(key))
