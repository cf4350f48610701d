"""How every Deputy process reaches Redis: REDIS_URL, or the embedded Redis that `deputy up` started in the
data dir; asyncio clients on a bounded pool, RESP2 and no client-info round trips; the workers' RQ client the
same way, and riding out a Redis restart."""

from __future__ import annotations

from pathlib import Path

from redis import Redis as SyncRedis
from redis.asyncio import BlockingConnectionPool, Redis
from redis.backoff import ExponentialBackoff
from redis.exceptions import ConnectionError, RedisError, TimeoutError
from redis.retry import Retry

from memory.embedded import running_url
from orchestrator.errors import ConfigError

POOL_SIZE = 64
REACH_TIMEOUT_S = 2.0


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


def unanswered(url: str, timeout: float = REACH_TIMEOUT_S) -> str:
    """Why Redis at `url` doesn't answer a PING, or '' when it does: asked before a command starts, so an
    unreachable Redis is one line and not a traceback half-way through (or a server that says it is up)."""
    try:
        with SyncRedis.from_url(url, socket_connect_timeout=timeout, socket_timeout=timeout) as client:
            client.ping()
    except (RedisError, OSError) as err:
        return str(err) or type(err).__name__
    return ""


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


RQ_RETRIES = 20
"""With the backoff below (50 ms doubling to 2 s), a command keeps trying for about half a minute: a Redis
restart or a short outage is ridden out inside the call instead of failing the job or the worker."""


def sync_redis(url: str, *, retries: int = RQ_RETRIES, timeout: float | None = None) -> SyncRedis:
    """RQ's client in a worker: like the async pool (RESP2, no CLIENT SETINFO), retrying connection errors
    with backoff and checking an idle connection before use (a restarted Redis closed it). `timeout` bounds a
    reply's wait (supervisors that must keep ticking); RQ sets its own, longer than its blocking dequeue."""
    return SyncRedis.from_url(
        url,
        protocol=2,
        driver_info=None,
        retry=Retry(ExponentialBackoff(cap=2.0, base=0.05), retries),
        retry_on_error=[ConnectionError, TimeoutError],
        health_check_interval=30,
        socket_connect_timeout=2,
        socket_timeout=timeout,
        socket_keepalive=True,
    )
