"""The inbox: every platform delivery (a Slack request, a Telegram update, a signed hook) is stored here — one
write, fsynced by the embedded Redis' `appendfsync always` — before the platform gets its 2xx, and removed once
it was handled. What a crash leaves behind is found by age and handled again (bot/ingress.py)."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from redis.asyncio import Redis

from memory import codec, keys
from memory.store import APPEND_EVENTS, events_args
from orchestrator.events import Event

# KEYS: the stream, then keys that must not exist yet (dedupe claims, a reserved id), then — for an entry stored
# with a record kept once (`Kept`) — the ledger and the record's guard. ARGV: how many claim keys, then per key its
# value ('' stands for the new entry's id) and ttl (0: kept for good), then the entry's field/value count and pairs,
# then the guard's value and the events. {0, key}: that key existed, nothing was stored; {1, entry id}: stored,
# keys set, and the record kept unless its guard already existed.
PUT = (
    APPEND_EVENTS
    + """
local n = tonumber(ARGV[1])
for i = 2, n + 1 do
  if redis.call('EXISTS', KEYS[i]) == 1 then return {0, KEYS[i]} end
end
local f = tonumber(ARGV[2 + n * 2])
local id = redis.call('XADD', KEYS[1], '*', unpack(ARGV, 3 + n * 2, 2 + n * 2 + f))
for i = 1, n do
  local value, ttl = ARGV[i * 2], tonumber(ARGV[i * 2 + 1])
  if value == '' then value = id end
  if ttl > 0 then redis.call('SET', KEYS[i + 1], value, 'EX', ttl) else redis.call('SET', KEYS[i + 1], value) end
end
if #KEYS > n + 1 and redis.call('SET', KEYS[n + 3], ARGV[3 + n * 2 + f], 'NX') then
  append_events(KEYS[n + 2], 4 + n * 2 + f)
end
return {1, id}
"""
)


@dataclass(frozen=True)
class Claim:
    """A key the delivery must be first to set (its dedupe), with the value it gets and for how long."""

    key: str
    value: str = ""
    ttl: int = 0


@dataclass(frozen=True)
class Kept:
    """What is written with the entry, in the same step, once: `guard` set to `value` and the events appended
    (unless `guard` exists already). A source's record of an item (an email's triage and `EmailReceived`) is then
    never missing for a stored item, nor written twice, and costs no write of its own."""

    guard: str
    value: str
    events: Sequence[Event]


@dataclass(frozen=True)
class Stored:
    entry_id: str
    taken: str
    """The claim key that existed, when nothing was stored."""


@dataclass(frozen=True)
class Entry:
    id: str
    kind: str
    fields: dict[str, str]

    @property
    def age_s(self) -> float:
        return time.time() - int(self.id.split("-")[0]) / 1000


class RedisInbox:
    def __init__(self, redis: Redis) -> None:
        self.redis = redis
        self._put = redis.register_script(PUT)

    async def put(
        self, kind: str, fields: dict[str, str], claims: Sequence[Claim] = (), kept: Kept | None = None
    ) -> Stored:
        """Stored with its entry id, or refused naming the claim that was taken (a duplicate; nothing stored).
        A Redis fault raises: the route answers 5xx and the platform sends it again."""
        args: list[str | int] = [len(claims)]
        for claim in claims:
            args += [claim.value, claim.ttl]
        pairs = [item for pair in {"kind": kind, **fields}.items() for item in pair]
        args += [len(pairs), *pairs]
        names = [keys.INBOX, *(c.key for c in claims)]
        if kept is not None:
            names += [keys.LEDGER, kept.guard]
            args += [kept.value, *events_args(kept.events)]
        stored, found = await self._put(keys=names, args=args)
        return Stored(codec.text(found), "") if int(stored) else Stored("", codec.text(found))

    async def remove(self, entry_id: str) -> None:
        pipe = self.redis.pipeline(transaction=True)
        pipe.xdel(keys.INBOX, entry_id)
        pipe.hdel(keys.inbox("tries"), entry_id)
        pipe.srem(keys.inbox("left"), entry_id)
        await pipe.execute()

    async def leave(self, entry_ids: Sequence[str]) -> None:
        """Entries a stopping process did not begin: the next sweep takes them at once, not only once they are old."""
        if entry_ids:
            await self.redis.sadd(keys.inbox("left"), *entry_ids)

    async def left(self, count: int = 100) -> list[Entry]:
        """The entries a clean stop left (those handled since are forgotten here)."""
        members = await self.redis.srandmember(keys.inbox("left"), count)
        ids = [codec.text(i) for i in members] if isinstance(members, list) else []
        if not ids:
            return []
        pipe = self.redis.pipeline(transaction=False)
        for entry_id in ids:
            pipe.xrange(keys.INBOX, entry_id, entry_id)
        found = [rows[0] for rows in await pipe.execute() if rows]
        gone = set(ids) - {codec.text(entry_id) for entry_id, _ in found}
        if gone:
            await self.redis.srem(keys.inbox("left"), *gone)
        return [_entry(entry_id, fields) for entry_id, fields in found]

    async def waiting(self, older_than_s: float, count: int = 100) -> list[Entry]:
        """Entries stored longer ago than `older_than_s`: left by a process that crashed while handling them."""
        until = int((time.time() - older_than_s) * 1000)
        rows = await self.redis.xrange(keys.INBOX, "-", str(until), count=count)
        return [_entry(entry_id, fields) for entry_id, fields in rows or []]

    async def lease(self, entry_id: str, seconds: int) -> bool:
        """One sweeper at a time handles a left-behind entry; a repeated try counts against it."""
        return bool(await self.redis.set(keys.inbox(f"lease:{entry_id}"), 1, nx=True, ex=seconds))

    async def tried(self, entry_id: str) -> int:
        return int(await self.redis.hincrby(keys.inbox("tries"), entry_id, 1))

    async def bury(self, entry: Entry, why: str) -> None:
        """An entry that failed too often moves aside (kept for a person to look at), so it stops being retried."""
        pipe = self.redis.pipeline(transaction=True)
        dead: dict[Any, Any] = {"entry": entry.id, "why": why[:500], "kind": entry.kind, **entry.fields}
        pipe.xadd(keys.inbox("dead"), dead)
        pipe.xdel(keys.INBOX, entry.id)
        pipe.hdel(keys.inbox("tries"), entry.id)
        await pipe.execute()

    async def count(self) -> int:
        return int(await self.redis.xlen(keys.INBOX))


def _entry(entry_id: object, fields: object) -> Entry:
    data = {codec.text(k): codec.text(v) for k, v in dict(fields or {}).items()}  # type: ignore[call-overload]
    return Entry(codec.text(entry_id), data.pop("kind", ""), data)  # type: ignore[arg-type]
