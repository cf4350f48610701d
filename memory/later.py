"""Requests scheduled for later (`task.later`) in Redis: one hash per item and a sorted set by time. Every move is
one Lua script, so schedulers racing each other move an item once: scheduled → firing (taken) → fired, or
scheduled → cancelled; a pass that took an item and died leaves it firing, and the next pass takes it again."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from redis.asyncio import Redis

from memory import keys
from memory.codec import text
from orchestrator.ports import Scheduled

KEPT_S = 30 * 24 * 3600
"""How long a fired or cancelled item is kept (what /cancel says about it afterwards)."""

# KEYS: item, due, of. ARGV: key, request, at iso, at epoch, remind. 1 if new, 0 if it was there (the same key again).
PUT = """
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], 'request', ARGV[2], 'at', ARGV[3], 'remind', ARGV[5], 'status', 'scheduled')
redis.call('ZADD', KEYS[2], ARGV[4], ARGV[1])
redis.call('SADD', KEYS[3], ARGV[1])
return 1
"""
# KEYS: item. The item (taken) or nil.
TAKE = """
local status = redis.call('HGET', KEYS[1], 'status')
if status ~= 'scheduled' and status ~= 'firing' then return nil end
redis.call('HSET', KEYS[1], 'status', 'firing')
return redis.call('HGETALL', KEYS[1])
"""
# KEYS: item, due, unsaid. ARGV: key, task id, kept, '1' when it is a reminder still to be said. 1 for the one who
# moved it; a reminder joins the unsaid set (by Redis's clock) in the same step.
FIRED = """
local status = redis.call('HGET', KEYS[1], 'status')
if not status or status == 'fired' or status == 'cancelled' then return 0 end
redis.call('HSET', KEYS[1], 'status', 'fired', 'task', ARGV[2])
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('EXPIRE', KEYS[1], ARGV[3])
if ARGV[4] == '1' then
  local t = redis.call('TIME')
  redis.call('ZADD', KEYS[3], tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000), ARGV[1])
end
return 1
"""
# KEYS: item, due. ARGV: key, kept. The item as it is after.
CANCEL = """
if redis.call('HGET', KEYS[1], 'status') == 'scheduled' then
  redis.call('HSET', KEYS[1], 'status', 'cancelled')
  redis.call('ZREM', KEYS[2], ARGV[1])
  redis.call('EXPIRE', KEYS[1], ARGV[2])
end
return redis.call('HGETALL', KEYS[1])
"""


class RedisLater:
    def __init__(self, redis: Redis) -> None:
        self.redis = redis
        self._put, self._take = redis.register_script(PUT), redis.register_script(TAKE)
        self._fired, self._cancel = redis.register_script(FIRED), redis.register_script(CANCEL)

    async def put(self, item: Scheduled) -> bool:
        """Schedule it under its key; the same key again changes nothing (an action applied twice)."""
        names = [_item(item.key), keys.later("due"), keys.later(f"of:{item.proposal_id}")]
        args: list[str | float] = [item.key, item.request, item.at.isoformat(), item.at.timestamp(), int(item.remind)]
        return bool(await self._put(keys=names, args=args))

    async def due(self, now: datetime) -> list[Scheduled]:
        found = await self.redis.zrangebyscore(keys.later("due"), "-inf", now.timestamp(), start=0, num=100)
        return await self._items([text(k) for k in found if isinstance(k, str | bytes)])

    async def take(self, key: str) -> Scheduled | None:
        return scheduled(key, await self._take(keys=[_item(key)]))

    async def fired(self, key: str, task_id: str, *, unsaid: bool = False) -> bool:
        names = [_item(key), keys.later("due"), keys.later("unsaid")]
        return bool(await self._fired(keys=names, args=[key, task_id, KEPT_S, int(unsaid)]))

    async def said(self, key: str) -> None:
        await self.redis.zrem(keys.later("unsaid"), key)

    async def unsaid(self, older_than_s: float = 0) -> list[str]:
        seconds, micros = await self.redis.time()
        found = await self.redis.zrangebyscore(
            keys.later("unsaid"), 0, seconds * 1000 + micros // 1000 - older_than_s * 1000
        )
        return [text(k) for k in found if isinstance(k, str | bytes)]

    async def cancel(self, key: str) -> Scheduled | None:
        return scheduled(key, await self._cancel(keys=[_item(key), keys.later("due")], args=[key, KEPT_S]))

    async def upcoming(self, limit: int = 10) -> list[Scheduled]:
        found = await self.redis.zrange(keys.later("due"), 0, limit - 1)
        return await self._items([text(k) for k in found if isinstance(k, str | bytes)])

    async def of(self, proposal_id: str) -> list[Scheduled]:
        return await self._items(sorted(text(k) for k in await self.redis.smembers(keys.later(f"of:{proposal_id}"))))

    async def _items(self, found: list[str]) -> list[Scheduled]:
        pipe = self.redis.pipeline(transaction=False)
        for key in found:
            pipe.hgetall(_item(key))
        rows = await pipe.execute() if found else []
        return [item for key, row in zip(found, rows, strict=True) if (item := scheduled(key, row))]


def _item(key: str) -> str:
    return keys.later(f"item:{key}")


def scheduled(key: str, raw: Any) -> Scheduled | None:
    """The item from HGETALL (a dict from redis-py, a flat list from a script)."""
    if not raw:
        return None
    if isinstance(raw, list):
        raw = dict(zip(raw[::2], raw[1::2], strict=True))
    row = {text(k): text(v) for k, v in raw.items()}
    if "at" not in row:
        return None
    at = datetime.fromisoformat(row["at"])
    return Scheduled(key, row["request"], at, row.get("remind") == "1", row["status"], row.get("task", ""))
