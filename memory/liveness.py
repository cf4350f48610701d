"""Which workers are alive: each beats a key that expires in seconds (see agents/maintenance.py)."""

from __future__ import annotations

from redis.asyncio import Redis

from memory import keys


async def alive_workers(redis: Redis) -> int:
    return len([key async for key in redis.scan_iter(match=keys.worker_alive("*"), count=100)])
