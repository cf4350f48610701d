"""Reading the append-only ledger (a Redis Stream). Writes happen only inside `RedisStore.commit`."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

from redis.asyncio import Redis
from redis.client import NEVER_DECODE

from memory import codec, keys
from memory.streams import Entry, exclusive, range_after, read_after
from orchestrator.events import Event

BATCH = 250
"""Entries per read when walking the ledger: a plain `XRANGE` (hiredis parses the reply in C; the event is
built from its `type` and `data` fields on the client). Redis spends well under a millisecond on a range of
250, so a walk of any length never holds it; measured on this box (2 shared cores, issue 30), 250 read
74k events/s where 500 read 51k and 1000 47k, and the earlier Lua batch of 500 41k."""


RAW = {NEVER_DECODE: True}
"""redis-py's option for a reply left as the bytes hiredis read, whatever the client decodes."""


class RedisLedger:
    def __init__(self, redis: Redis) -> None:
        self.redis = redis
        self._walk = Redis(connection_pool=redis.connection_pool)
        """The same connections, with XRANGE's reply as hiredis parsed it (`_as_parsed`) and left as bytes
        (`read`): redis-py would build a dict of every entry's nine fields, decoded, and an event is rebuilt from
        two, its JSON read from bytes as well as from text. About a quarter of a walk's time."""
        self._walk.set_response_callback("XRANGE", _as_parsed)

    async def entries(self, *, after: str = "0", count: int = 1000) -> list[Entry]:
        return await range_after(self.redis, keys.LEDGER, after, count=count)

    async def read(self, *, after: str = "0", count: int = 1000) -> list[tuple[str, Event]]:
        command: Any = self._walk.execute_command  # untyped in redis-py
        rows = await command("XRANGE", keys.LEDGER, exclusive(after), "+", "COUNT", count, **RAW)
        return [(codec.text(i), _event(fields)) for i, fields in rows or []]

    async def pages(self, *, after: str = "0", batch: int = BATCH) -> AsyncIterator[list[Entry]]:
        """The entries, every field, after `after`, oldest first, a batch at a time, up to the end as reached."""
        while page := await self.entries(after=after, count=batch):
            yield page
            after = page[-1][0]

    async def scan(self, *, after: str = "0", batch: int = BATCH) -> AsyncIterator[list[tuple[str, Event]]]:
        """Every event after `after` with its entry id, oldest first, a batch at a time: the way to walk the
        ledger (replay, stats, shadow runs), reading only the fields an event is rebuilt from."""
        while page := await self.read(after=after, count=batch):
            yield page
            after = page[-1][0]

    def position(self, at: datetime) -> str:
        """Entry ids are the milliseconds they were appended at: the id just before `at`."""
        return f"{max(int(at.timestamp() * 1000) - 1, 0)}-0"

    async def all_events(self) -> AsyncIterator[Event]:
        async for batch in self.scan():
            for _entry_id, event in batch:
                yield event

    async def follow(self, *, after: str = "$", block_ms: int = 5000) -> AsyncIterator[tuple[str, dict[str, str]]]:
        """Yield entries as they are appended, forever; `after='0'` replays from the start first."""
        last = after
        while True:
            for entry_id, fields in await read_after(self.redis, keys.LEDGER, last, block_ms=block_ms):
                last = entry_id
                yield entry_id, fields


def _as_parsed(response: Any, **kwargs: Any) -> Any:
    return response


def _event(fields: Any) -> Event:
    """An entry's fields as the server sent them, `[name, value, …]` in bytes under RESP2 and RESP3 alike. The
    ledger writes `type` first and `data` last (codec.event_fields); any other order is looked up by name."""
    if fields[0] == b"type" and fields[-2] == b"data":
        return codec.event_from_json(fields[1].decode(), fields[-1])
    found = dict(zip(fields[::2], fields[1::2], strict=True))
    return codec.event_from_json(found[b"type"].decode(), found[b"data"])
