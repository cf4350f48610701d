"""The running deployment's own answer to "can this action be carried out?": its worker, where actions run,
publishes each connector's readiness at start; other processes (a second terminal's `deputy chat`, the web
server, `deputy doctor`) read it instead of judging by their own environment."""

from __future__ import annotations

from redis.asyncio import Redis

from memory import keys

READY = "ready"


async def publish(redis: Redis, reasons: dict[str, str]) -> None:
    """kind → why it can't run ('' when it can); replaces what an earlier worker published."""
    async with redis.pipeline(transaction=True) as pipe:
        pipe.delete(keys.deployed_connectors())
        if reasons:
            pipe.hset(keys.deployed_connectors(), mapping={k: v or READY for k, v in reasons.items()})
        await pipe.execute()


async def published(redis: Redis) -> dict[str, str]:
    """What the running worker published, kind → reason ('' when ready); empty when no worker ever did."""
    raw = await redis.hgetall(keys.deployed_connectors())
    return {str(k): "" if v == READY else str(v) for k, v in raw.items()}
