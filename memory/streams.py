"""Reading Redis Streams the same way under RESP2 (a list of pairs) and RESP3 (a dict), typed."""

from __future__ import annotations

from typing import Any

from redis.asyncio import Redis
from redis.exceptions import TimeoutError as ReplyLate

from memory.codec import text

Entry = tuple[str, dict[str, str]]


def _entries(rows: Any) -> list[Entry]:
    return [(text(entry_id), {text(k): text(v) for k, v in (fields or {}).items()}) for entry_id, fields in rows or []]


async def read_after(redis: Redis, key: str, last: str, *, block_ms: int, count: int = 100) -> list[Entry]:
    """Entries of `key` after `last`, waiting up to `block_ms` for the first one. redis-py gives every reply a
    5 s read timeout by default: on a starved loop (a busy machine, a slow import) a blocking read's answer can
    come "late" though Redis sent it. That is an empty batch, not a failure: the next read starts at `last`
    again (redis-py dropped the connection, so nothing is half read)."""
    try:
        reply: Any = await redis.xread({key: last}, block=block_ms, count=count)
    except ReplyLate:
        return []
    streams = reply.items() if isinstance(reply, dict) else (reply or [])
    return [entry for _name, rows in streams for entry in _entries(rows)]


def exclusive(after: str) -> str:
    """The XRANGE start for "strictly after `after`", where "0" and "-" mean from the very start."""
    return f"({after}" if after not in ("0", "-") else "-"


async def range_after(redis: Redis, key: str, after: str, *, count: int) -> list[Entry]:
    """Up to `count` entries of `key` after `after`, oldest first, every field: a plain `XRANGE`, which never
    holds Redis for long, its reply parsed by hiredis in C."""
    return _entries(await redis.xrange(key, min=exclusive(after), max="+", count=count))


async def newest_id(redis: Redis, key: str) -> str | None:
    rows = _entries(await redis.xrevrange(key, count=1))
    return rows[0][0] if rows else None


async def newest_after(redis: Redis, key: str, after: str, *, upto: str, count: int) -> list[Entry]:
    """The newest `count` entries of `key` after `after` up to `upto`, oldest first."""
    return list(reversed(_entries(await redis.xrevrange(key, max=upto, min=exclusive(after), count=count))))
