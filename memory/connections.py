"""How every Deputy process reaches Redis: REDIS_URL, or the embedded Redis that `deputy up` started in the
data dir; asyncio clients on a bounded pool, RESP2 and no client-info round trips."""

from __future__ import annotations

from pathlib import Path

from redis.asyncio import BlockingConnectionPool, Redis

from memory.embedded import running_url
from orchestrator.errors import ConfigError

POOL_SIZE = 64


def resolve_url(redis_url: str | None, data_dir: Path) -> str:
    """REDIS_URL, else the embedded Redis running in the data dir, else a `ConfigError` that says what to do."""
    if redis_url:
        return redis_url
    url = running_url(data_dir)
    if url is None:
        raise ConfigError(
            f"no Redis: REDIS_URL is unset and no embedded Redis is running in {data_dir}. "
            "Start Deputy with 'deputy up' (or 'make run'), or set REDIS_URL."
        )
    return url


def async_redis(url: str) -> Redis:
    """A bounded pool that waits for a free connection: a burst of requests queues instead of failing with
    'Too many connections'."""
    pool = BlockingConnectionPool.from_url(
        url,
        max_connections=POOL_SIZE,
        timeout=30,
        decode_responses=True,
        protocol=2,
        driver_info=None,  # RESP2 and no CLIENT SETINFO: two fewer round trips per new connection
    )
    return Redis(connection_pool=pool)
