"""Reading the append-only ledger (a Redis Stream). Writes happen only inside `RedisStore.commit`."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime

from redis.asyncio import Redis

from memory import codec, keys
from memory.streams import Entry, exclusive, range_after, read_after
from orchestrator.events import Event

BATCH = 500
"""Entries per read when walking the ledger. Measured on 90k events (walk, Redis's script time an entry, Redis
busy per batch): 250: 0.66 s, 2.9 µs, 0.7 ms; 500: 0.70 s, 3.4 µs, 1.7 ms; 1000: 0.87 s, 4.5 µs, 4.5 ms;
5000: 1.51 s, 8.7 µs, 41 ms. Lua's tables cost more per entry the bigger they grow, and Redis serves nothing
else while a script runs; the round trip per batch (180 for 90k events) does not show."""

# A batch of events as "id type data" lines, the only fields an event is rebuilt from. `data` is compact JSON
# (`codec.dump`), in which a newline can only appear escaped; ids and type names hold no space. The count comes
# back too, so an entry that breaks that rule is noticed and its batch read the plain way instead.
EVENTS = """
local rows = redis.call('XRANGE', KEYS[1], ARGV[1], '+', 'COUNT', ARGV[2])
local lines = {}
for i, row in ipairs(rows) do
  local f, kind, data = row[2], '', ''
  for j = 1, #f, 2 do
    if f[j] == 'type' then kind = f[j + 1] elseif f[j] == 'data' then data = f[j + 1] end
  end
  lines[i] = row[1] .. ' ' .. kind .. ' ' .. data
end
return {#rows, table.concat(lines, '\\n')}
"""


class RedisLedger:
    def __init__(self, redis: Redis) -> None:
        self.redis = redis
        self._events = redis.register_script(EVENTS)

    async def entries(self, *, after: str = "0", count: int = 1000) -> list[Entry]:
        return await range_after(self.redis, keys.LEDGER, after, count=count)

    async def read(self, *, after: str = "0", count: int = 1000) -> list[tuple[str, Event]]:
        return [(i, codec.event_from_fields({"type": t, "data": d})) for i, t, d in await self._rows(after, count)]

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

    async def _rows(self, after: str, count: int) -> list[tuple[str, str, str]]:
        """(id, type, data) of up to `count` entries after `after`, from one reply string (see `EVENTS`)."""
        n, blob = await self._events(keys=[keys.LEDGER], args=[exclusive(after), count])
        lines = codec.text(blob).split("\n") if n else []
        if len(lines) != n:  # an entry broke the one-line rule: this batch is read the plain way
            return [(i, f.get("type", ""), f.get("data", "")) for i, f in await self.entries(after=after, count=count)]
        return [_row(line) for line in lines]


def _row(line: str) -> tuple[str, str, str]:
    entry_id, kind, data = line.split(" ", 2)
    return entry_id, kind, data
