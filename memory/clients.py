"""Clients and projects in Redis (the `RecordBook` port): a hash per record, an index of fixed keys, a timeline
per record. Every write goes out in one transaction with its ledger events (as memory/store.py commits tasks),
watched on the records and the key index, so two writers can't both take one key or both bump one revision."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import WatchError

from memory import codec, keys
from memory.later import scheduled
from memory.recall import Item
from memory.store import RedisStore
from orchestrator.errors import BadRequest, Conflict
from orchestrator.events import Event
from orchestrator.model import Proposal, Task
from orchestrator.ports import OpenWork
from orchestrator.records import Entity, Link, shown, tomb, unique

Card = tuple[Entity, list[Link]]

KEYS, TOMB, SEQ = keys.rec("keys"), keys.rec("tomb"), keys.rec("seq")
CHANGES = keys.memory("changes")
RECALLED_AS = {"client": "person", "project": "project"}
"""The recall kind of a record: a client is a person (or company) to recall, a project a project."""
# ARGV: how many timeline lines, then lookup keys in order, each `u|<key>` (unique: in the key hash) or
# `s|<key>` (shared: a set). Returns the records of the first key that names any, flat: id, data, rev, their
# newest timeline lines (JSON array) — a lookup in one round trip.
FIND = """
local base = 'deputy:rec:'
local function find(lines, first)
  for n = first, #ARGV do
    local arg = ARGV[n]
    local key = string.sub(arg, 3)
    local ids
    if string.sub(arg, 1, 1) == 'u' then
      local id = redis.call('HGET', base .. 'keys', key)
      ids = id and {id} or {}
    else
      ids = redis.call('SMEMBERS', base .. key)
    end
    if #ids > 0 then
      table.sort(ids)
      local out = {}
      for _, id in ipairs(ids) do
        local found = redis.call('HMGET', base .. id, 'data', 'rev')
        if found[1] then
          local recent = {}
          if lines > 0 then
            local refs = redis.call('ZREVRANGE', base .. 'tl:' .. id, 0, lines - 1)
            if #refs > 0 then
              for _, line in ipairs(redis.call('HMGET', base .. 'tlx:' .. id, unpack(refs))) do
                if line then table.insert(recent, line) end
              end
            end
          end
          table.insert(out, id); table.insert(out, found[1]); table.insert(out, found[2])
          table.insert(out, '[' .. table.concat(recent, ',') .. ']')
        end
      end
      if #out > 0 then return out end
    end
  end
  return {}
end
"""
RESOLVE = FIND + "return find(tonumber(ARGV[1]), 2)"
# ARGV: how many timeline lines, how many of each open thing at most, then the lookups as RESOLVE's. Returns
# RESOLVE's answer and what is open anywhere — pending proposals, running tasks (received, running, applying),
# requests for later (key, then the item's fields), projects — each record as data, rev: `/who` in one round trip.
WHO = (
    FIND
    + """
local limit = tonumber(ARGV[2])
local function first(ids)
  table.sort(ids)
  local out = {}
  for i = 1, math.min(limit, #ids) do out[i] = ids[i] end
  return out
end
local function rows(prefix, ids)
  local out = {}
  for _, id in ipairs(first(ids)) do
    local found = redis.call('HMGET', prefix .. id, 'data', 'rev')
    if found[1] then table.insert(out, found[1]); table.insert(out, found[2]) end
  end
  return out
end
local busy = {}
for _, status in ipairs({'received', 'running', 'applying'}) do
  for _, id in ipairs(redis.call('SMEMBERS', 'deputy:idx:task:' .. status)) do table.insert(busy, id) end
end
local later = {}
for _, key in ipairs(redis.call('ZRANGE', 'deputy:later:due', 0, limit - 1)) do
  table.insert(later, key); table.insert(later, redis.call('HGETALL', 'deputy:later:item:' .. key))
end
return {
  find(tonumber(ARGV[1]), 3),
  rows('deputy:proposal:', redis.call('SMEMBERS', 'deputy:idx:proposal:pending')),
  rows('deputy:task:', busy),
  later,
  rows(base, redis.call('SMEMBERS', base .. 'all:project')),
}
"""
)
PREFIXES = {"client": "c", "project": "j"}


def _shared(key: str) -> str:
    return keys.rec(key)  # `rec:domain:<domain>`, `rec:first:<name>`


class RedisRecordBook:
    def __init__(
        self, redis: Redis, store: RedisStore | None = None, changed: Callable[[], None] | None = None
    ) -> None:
        self.redis = redis
        self.store = store or RedisStore(redis)
        self.changed = changed
        """Told after each write: this process's recall looks at the change stream at once (memory/records.py)."""
        self._resolve, self._who = redis.register_script(RESOLVE), redis.register_script(WHO)

    async def get(self, record_id: str) -> Entity | None:
        raw, rev = await self.redis.hmget(keys.rec(record_id), ["data", "rev"])
        return _load(raw, rev)

    async def many(self, ids: Sequence[str]) -> list[Entity]:
        """Several records in one round trip (lists, import, export)."""
        pipe = self.redis.pipeline(transaction=False)
        for record_id in ids:
            pipe.hmget(keys.rec(record_id), ["data", "rev"])
        found = [_load(raw, rev) for raw, rev in await pipe.execute()]
        return [e for e in found if e is not None]

    async def resolve(self, lookups: Sequence[str]) -> list[Entity]:
        return [entity for entity, _ in await self.cards(lookups, 0)]

    async def cards(self, lookups: Sequence[str], lines: int) -> list[Card]:
        args: list[str | int] = [lines, *(f"{'u' if unique(k) else 's'}|{k}" for k in lookups)]
        return _cards(await self._resolve(keys=[], args=args))

    async def who(self, lookups: Sequence[str], lines: int, limit: int) -> tuple[list[Card], OpenWork]:
        args: list[str | int] = [lines, limit, *(f"{'u' if unique(k) else 's'}|{k}" for k in lookups)]
        found, pending, running, later, projects = await self._who(keys=[], args=args)
        open_work = OpenWork(
            [p for p in _records("proposal", pending) if isinstance(p, Proposal)],
            [t for t in _records("task", running) if isinstance(t, Task)],
            [s for k, row in zip(later[::2], later[1::2], strict=True) if (s := scheduled(codec.text(k), row))],
            [e for e in (_load(raw, rev) for raw, rev in zip(projects[::2], projects[1::2], strict=True)) if e],
        )
        return _cards(found), open_work

    async def find(self, key: str) -> list[str]:
        if unique(key):
            found = await self.redis.hget(KEYS, key)
            return [codec.text(found)] if found else []
        return sorted(codec.text(m) for m in await self.redis.smembers(_shared(key)))

    async def ids(self, kind: str) -> list[str]:
        return sorted(codec.text(m) for m in await self.redis.smembers(keys.rec(f"all:{kind}")))

    async def new_id(self, kind: str) -> str:
        return f"{PREFIXES.get(kind, 'c')}{await self.redis.incr(SEQ)}"

    async def new_ids(self, kind: str, count: int) -> list[str]:
        """`count` ids in one round trip (an import's batch)."""
        last = int(await self.redis.incrby(SEQ, count))
        return [f"{PREFIXES.get(kind, 'c')}{n}" for n in range(last - count + 1, last + 1)]

    async def index(self) -> dict[str, str]:
        """Every unique key and its record, at once: an import of thousands of rows looks them up locally."""
        found = await self.redis.hgetall(KEYS)
        return {codec.text(k): codec.text(v) for k, v in found.items()}

    async def tombs(self) -> set[str]:
        return {codec.text(m) for m in await self.redis.smembers(TOMB)}

    async def buried(self, found: Sequence[str]) -> bool:
        if not found:
            return False
        return any(await self.redis.smismember(TOMB, [tomb(k) for k in found]))

    async def save(self, entities: Sequence[Entity], events: Sequence[Event], *, drop: Sequence[str] = ()) -> None:
        names = [keys.rec(e.id) for e in entities]
        async with self.redis.pipeline(transaction=True) as pipe:
            await pipe.watch(*names, *(keys.rec(d) for d in drop), KEYS)
            stored = await self.many([e.id for e in entities])
            await self._check(entities, {e.id: e for e in stored}, drop)
            before = {e.id: e.fixed_keys() for e in stored}
            gone = [e for e in await self.many(list(drop))]
            pipe.multi()  # type: ignore[no-untyped-call]
            self._write(pipe, entities, before)
            for other in gone:
                self._remove(pipe, other)
            _to_recall(pipe, [e.id for e in entities], list(drop))
            await self.store.append_on(pipe, events)
            try:
                await pipe.execute()
            except WatchError as err:
                raise Conflict("records changed while saving") from err
        for entity in entities:
            entity.rev += 1
        self.changed() if self.changed else None

    async def _check(self, entities: Sequence[Entity], stored: dict[str, Entity], drop: Sequence[str]) -> None:
        """Revisions match, and no unique key (nor a forgotten one) belongs to another record."""
        for entity in entities:
            have = stored.get(entity.id)
            if (have.rev if have else 0) != entity.rev:
                raise Conflict(f"record {entity.id} was changed by someone else first")
        wanted = {k: e for e in entities for k in e.fixed_keys() if unique(k)}
        if not wanted:
            return
        owners = await self.redis.hmget(KEYS, list(wanted))
        ours = {e.id for e in entities} | set(drop)
        for (key, entity), owner in zip(wanted.items(), owners, strict=True):
            if owner is not None and codec.text(owner) not in ours:
                raise BadRequest(
                    f"{key.split(':', 1)[1]} is already record {codec.text(owner)}'s, not {entity.name}'s."
                )
        if any(await self.redis.smismember(TOMB, [tomb(k) for k in wanted])):
            raise BadRequest(f"{entity.name or entity.id} was forgotten (/forget client); it can't come back.")

    @staticmethod
    def _write(pipe: Any, entities: Sequence[Entity], before: dict[str, set[str]]) -> None:
        """A few commands per record, the key index in one: a batch of an import is one short transaction."""
        owned: dict[str, str] = {}
        for entity in entities:
            now, old = entity.fixed_keys(), before.get(entity.id, set())
            pipe.hset(keys.rec(entity.id), mapping={"data": codec.dump(entity), "rev": entity.rev + 1})
            stale = [k for k in old - now if unique(k)]
            if stale:
                pipe.hdel(KEYS, *stale)
            for key in {k for k in old ^ now if not unique(k)}:
                (pipe.sadd if key in now else pipe.srem)(_shared(key), entity.id)
            owned.update({k: entity.id for k in now if unique(k)})
        for kind in {e.kind for e in entities}:
            pipe.sadd(keys.rec(f"all:{kind}"), *(e.id for e in entities if e.kind == kind))
        if owned:
            pipe.hset(KEYS, mapping=owned)

    @staticmethod
    def _remove(pipe: Any, entity: Entity) -> None:
        pipe.delete(keys.rec(entity.id), keys.rec(f"tl:{entity.id}"), keys.rec(f"tlx:{entity.id}"))
        pipe.srem(keys.rec(f"all:{entity.kind}"), entity.id)
        for key in entity.fixed_keys():
            if not unique(key):
                pipe.srem(_shared(key), entity.id)

    async def forget(self, entity: Entity, events: Sequence[Event]) -> None:
        found = entity.fixed_keys()
        async with self.redis.pipeline(transaction=True) as pipe:
            self._remove(pipe, entity)
            for key in found:
                if unique(key):
                    pipe.hdel(KEYS, key)
            buried = [tomb(k) for k in found if unique(k)]
            if buried:
                pipe.sadd(TOMB, *buried)
            _to_recall(pipe, [], [entity.id])
            await self.store.append_on(pipe, events)
            await pipe.execute()
        self.changed() if self.changed else None

    async def link(self, record_ids: Sequence[str], link: Link) -> None:
        line = json.dumps({"at": link.at.isoformat(), "what": link.what, "text": link.text, "ref": link.ref})
        pipe = self.redis.pipeline(transaction=True)
        for record_id in record_ids:
            pipe.zadd(keys.rec(f"tl:{record_id}"), {link.ref: link.at.timestamp()})
            pipe.hset(keys.rec(f"tlx:{record_id}"), link.ref, line)
        await pipe.execute()

    async def timeline(self, record_id: str, limit: int = 10) -> list[Link]:
        refs = await self.redis.zrevrange(keys.rec(f"tl:{record_id}"), 0, limit - 1)
        if not refs:
            return []
        lines = await self.redis.hmget(
            keys.rec(f"tlx:{record_id}"), [codec.text(r) for r in refs if isinstance(r, str | bytes)]
        )
        return [_link(json.loads(codec.text(line))) for line in lines if line]


def _to_recall(pipe: Any, saved: Sequence[str], gone: Sequence[str]) -> None:
    """Recall indexes records beside remembered facts: each write puts the ids on memory's change stream, in the
    same transaction, and every recall index catches up from it (memory/records.py reads the record then)."""
    for record_id in saved:
        pipe.xadd(CHANGES, {"op": "record", "id": record_id})
    for record_id in gone:
        pipe.xadd(CHANGES, {"op": "forget", "id": record_id})


def recall_item(entity: Entity) -> Item:
    """What recall holds of a record: its name, addresses and every other field in words (terms, tags, notes)."""
    f = entity.fields
    reach = f" <{', '.join(f['emails'])}>" if f.get("emails") else ""
    parts = [entity.kind, *(f"{k} {shown(v)}" for k, v in f.items() if k not in ("name", "emails") and v)]
    return Item(entity.id, RECALLED_AS.get(entity.kind, "person"), f"{entity.name}{reach} — {'; '.join(parts)}")


def load_entity(raw: Any, rev: Any) -> Entity | None:
    return _load(raw, rev)


def _load(raw: Any, rev: Any) -> Entity | None:
    if raw is None:
        return None
    entity = codec.load(Entity, raw)
    entity.rev = int(codec.text(rev) or 0)
    return entity


def _cards(flat: list[Any]) -> list[Card]:
    found = [(_load(flat[i + 1], flat[i + 2]), flat[i + 3]) for i in range(0, len(flat), 4)]
    return [(e, [_link(line) for line in json.loads(raw)]) for e, raw in found if e is not None]


def _records(kind: str, flat: list[Any]) -> list[Task | Proposal]:
    """Tasks or proposals from a script's flat data, rev pairs."""
    found = []
    for raw, rev in zip(flat[::2], flat[1::2], strict=True):
        record = codec.load_record(kind, raw)
        record.rev = int(codec.text(rev) or 0)
        found.append(record)
    return found


def _link(data: dict[str, str]) -> Link:
    return Link(datetime.fromisoformat(data["at"]), data["what"], data["text"], data["ref"])
