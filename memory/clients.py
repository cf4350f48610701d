"""Clients and projects in Redis (the `RecordBook` port): a hash per record, an index of fixed keys, a timeline
per record. Every write goes out in one transaction with its ledger events (as memory/store.py commits tasks),
watched on the records and the key index, so two writers can't both take one key or both bump one revision."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import WatchError

from memory import codec, keys
from memory.store import RedisStore
from orchestrator.errors import BadRequest, Conflict
from orchestrator.events import Event
from orchestrator.records import Entity, Link, tomb, unique

KEYS, TOMB, SEQ = keys.rec("keys"), keys.rec("tomb"), keys.rec("seq")
# ARGV: how many timeline lines, then lookup keys in order, each `u|<key>` (unique: in the key hash) or
# `s|<key>` (shared: a set). Returns the records of the first key that names any, flat: id, data, rev, their
# newest timeline lines (JSON array) — one round trip for `/who`.
RESOLVE = """
local base = 'deputy:rec:'
local lines = tonumber(ARGV[1])
for n = 2, #ARGV do
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
"""
PREFIXES = {"client": "c", "project": "j"}


def _shared(key: str) -> str:
    return keys.rec(key)  # `rec:domain:<domain>`, `rec:first:<name>`


class RedisRecordBook:
    def __init__(self, redis: Redis, store: RedisStore | None = None) -> None:
        self.redis = redis
        self.store = store or RedisStore(redis)
        self._resolve = redis.register_script(RESOLVE)

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

    async def cards(self, lookups: Sequence[str], lines: int) -> list[tuple[Entity, list[Link]]]:
        args: list[str | int] = [lines, *(f"{'u' if unique(k) else 's'}|{k}" for k in lookups)]
        flat = await self._resolve(keys=[], args=args)
        found = [(_load(flat[i + 1], flat[i + 2]), flat[i + 3]) for i in range(0, len(flat), 4)]
        return [(e, [_link(line) for line in json.loads(raw)]) for e, raw in found if e is not None]

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
            await self.store.append_on(pipe, events)
            try:
                await pipe.execute()
            except WatchError as err:
                raise Conflict("records changed while saving") from err
        for entity in entities:
            entity.rev += 1

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
            await self.store.append_on(pipe, events)
            await pipe.execute()

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


def _load(raw: Any, rev: Any) -> Entity | None:
    if raw is None:
        return None
    entity = codec.load(Entity, raw)
    entity.rev = int(codec.text(rev) or 0)
    return entity


def _link(data: dict[str, str]) -> Link:
    return Link(datetime.fromisoformat(data["at"]), data["what"], data["text"], data["ref"])
