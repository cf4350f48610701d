"""Outbound pacing shared by every process that posts to a chat: Slack and Telegram allow about one
message per second per chat, and workers on several hosts post to the same chats. Each post reserves the
next free slot in Redis (one atomic script, Redis' own clock) and sleeps until it."""

from __future__ import annotations

import asyncio

from redis.asyncio import Redis
from redis.exceptions import RedisError

_RESERVE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local free = tonumber(redis.call('GET', KEYS[1]) or '0')
local at = math.max(now, free)
local interval = tonumber(ARGV[1])
redis.call('SET', KEYS[1], at + interval, 'PX', at + interval - now + 1000)
return at - now
"""


async def pace(redis: Redis, chat_key: str, interval_s: float) -> float:
    """Wait for this chat's next slot; returns the seconds waited. Pacing is a courtesy: when Redis can't keep
    the slot (down, out of memory), the message goes now — an alert about Redis itself must still get out."""
    try:
        reserve = redis.register_script(_RESERVE)  # EVALSHA: the script's text is not sent and hashed each post
        wait_ms = int(await reserve(keys=[f"deputy:pace:{chat_key}"], args=[int(interval_s * 1000)]))
    except (RedisError, OSError):
        return 0.0
    if wait_ms > 0:
        await asyncio.sleep(wait_ms / 1000)
    return wait_ms / 1000
