"""The scheduler's shared memory of digests in Redis: which dates were posted, where the last one left off
in the ledger, and what each digest's Approve all low-risk button covers."""

from __future__ import annotations

import json
from datetime import datetime

from redis.asyncio import Redis

from memory import keys
from orchestrator.model import ChatRef

KEEP_S = 8 * 24 * 3600


class RedisDigestBook:
    """`DigestOffers`, `DigestShown` and `DigestRuns` (orchestrator/ports.py) over one Redis."""

    def __init__(self, redis: Redis) -> None:
        self.redis = redis

    async def save(self, digest_id: str, entries: list[tuple[str, int]]) -> None:
        await self.redis.set(keys.digest(f"entries:{digest_id}"), json.dumps(entries), ex=KEEP_S)

    async def entries(self, digest_id: str) -> list[tuple[str, int]]:
        raw = await self.redis.get(keys.digest(f"entries:{digest_id}"))
        return [(str(pid), int(version)) for pid, version in json.loads(raw)] if raw else []

    async def showed(self, chat: ChatRef, versions: dict[str, int]) -> None:
        if versions:
            name = keys.digest(f"shown:{chat.platform}:{chat.chat}")
            pipe = self.redis.pipeline(transaction=True)
            pipe.hset(name, mapping=versions)  # type: ignore[arg-type]
            pipe.expire(name, KEEP_S)
            await pipe.execute()

    async def shown(self, chat: ChatRef, proposal_id: str) -> int | None:
        found = await self.redis.hget(keys.digest(f"shown:{chat.platform}:{chat.chat}"), proposal_id)
        return int(found) if found else None

    async def sent(self, date: str) -> bool:
        return bool(await self.redis.exists(keys.digest(f"sent:{date}")))

    async def mark_sent(self, date: str) -> None:
        await self.redis.set(keys.digest(f"sent:{date}"), datetime.now().isoformat(), ex=KEEP_S)

    async def cursor(self) -> str:
        return str(await self.redis.get(keys.digest("cursor")) or "0")

    async def advance(self, cursor: str) -> None:
        await self.redis.set(keys.digest("cursor"), cursor)

    async def since(self, now: datetime) -> datetime:
        await self.redis.set(keys.digest("since"), now.isoformat(), nx=True)
        return datetime.fromisoformat(str(await self.redis.get(keys.digest("since"))))
