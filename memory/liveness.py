"""Which workers are alive (each beats a key that expires in seconds, see agents/maintenance.py), and how
deliveries to each chat platform are going, shared by every process."""

from __future__ import annotations

from redis.asyncio import Redis

from memory import keys
from memory.faults import probe


async def alive_workers(redis: Redis) -> int:
    return len([key async for key in redis.scan_iter(match=keys.worker_alive("*"), count=100)])


class RedisLiveness:
    def __init__(self, redis: Redis) -> None:
        self.redis = redis

    async def workers(self) -> int:
        return await alive_workers(self.redis)

    async def storage(self) -> str:
        return await probe(self.redis)

    async def record(self, platform: str, ok: bool) -> None:
        key = keys.health(f"fails:{platform}")
        if ok:  # a DEL of a missing key writes nothing: no AOF bytes, no fsync for every message sent
            await self.redis.delete(key)
        else:
            await self.redis.incr(key)

    async def failures(self, platform: str) -> int:
        return int(await self.redis.get(keys.health(f"fails:{platform}")) or 0)

    async def flag(self, name: str, on: bool) -> bool:
        key = keys.health(f"flag:{name}")
        if on:
            return bool(await self.redis.set(key, 1, nx=True))
        return bool(await self.redis.delete(key))
