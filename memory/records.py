"""Canonical memory: facts, people, projects and decisions, each with an id, a version, its source (who said it,
where, when) and a status. Records live in Redis, the source of truth every process shares; semantic recall
(memory/recall.py) is an index derived from them.

Hygiene is built in: remembering something that is nearly a record already updates that record (a new version;
the old text stays in its history) instead of storing a duplicate; `forget` takes a record out of recall for
good; recall drops weak matches, so an agent asks rather than guesses."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from redis.asyncio import Redis

from memory import keys
from memory.clients import load_entity, recall_item
from memory.embedder import terms
from memory.recall import Changes, Item, Recall
from orchestrator.errors import NotFound
from orchestrator.records import Entity

log = logging.getLogger("deputy.memory")

Kind = Literal["fact", "person", "project", "decision"]
KINDS: tuple[Kind, ...] = ("fact", "person", "project", "decision")
MIN_SCORE = 0.3
"""Below this a recalled record is not used (the agent asks a clarifying question instead)."""
SAME = 0.97
MERGE = 0.72
"""A new fact this close (hybrid score) to a record of the same kind, sharing its subject, updates that record."""
OLD_FACTS = "deputy:facts"
RECORD_ID = re.compile(r"^[cj]\d+$")
"""A client or project (memory/clients.py) in recall: read from the record, changed only through the records."""


@dataclass(frozen=True)
class Source:
    by: str
    """Who said it: an actor label ("you", "@sam") or a system ("hook:leads")."""
    where: str = ""
    """Which message or event: a task id, a chat."""
    at: str = field(default_factory=lambda: datetime.now(UTC).isoformat())


@dataclass
class MemoryRecord:
    id: str
    kind: str
    text: str
    source: Source
    version: int = 1
    status: str = "active"
    history: list[dict[str, Any]] = field(default_factory=list)
    forgotten_at: str = ""

    def cite(self) -> str:
        """ "ACME billing contact…, saved 3 Nov by you" — what a card shows for a record it used."""
        saved = datetime.fromisoformat(self.source.at)
        verb = "saved" if self.version == 1 else f"updated (v{self.version})"
        text = self.text if len(self.text) <= 60 else self.text[:59] + "…"
        return f"“{text}” ({self.id}, {verb} {saved.day} {saved:%b} by {self.source.by})"

    def dump(self) -> str:
        return json.dumps({**asdict(self), "source": asdict(self.source)})

    @classmethod
    def load(cls, raw: str) -> MemoryRecord:
        data = json.loads(raw)
        return cls(**{**data, "source": Source(**data["source"])})


@dataclass(frozen=True)
class Recalled:
    record: MemoryRecord
    score: float


@dataclass(frozen=True)
class Remembered:
    record: MemoryRecord
    outcome: Literal["new", "same", "updated"]
    previous: str = ""


class RedisMemory:
    def __init__(self, redis: Redis, index: Recall) -> None:
        self.redis, self.index = redis, index
        self._wrote, self._looked = False, False

    # ---- writes ---------------------------------------------------------------------------------------

    async def remember(self, text: str, source: Source, kind: Kind = "fact") -> Remembered:
        text = " ".join(text.split())
        close = [
            r
            for r in await self.recall(text, limit=3, kinds=(kind,), floor=MERGE)
            if not RECORD_ID.match(r.record.id) and _same_subject(r, text)
        ]
        if close and (close[0].score >= SAME or _norm(close[0].record.text) == _norm(text)):
            return Remembered(close[0].record, "same")
        if close:
            previous = close[0].record.text
            return Remembered(await self.supersede(close[0].record.id, text, source), "updated", previous)
        number = await self.redis.incr(keys.memory("seq"))
        record = MemoryRecord(f"m{number}", kind, text, source)
        await self._write(record, "add")
        return Remembered(record, "new")

    async def supersede(self, record_id: str, text: str, source: Source) -> MemoryRecord:
        """A new version; the old text, source and time stay in the history."""
        record = None if RECORD_ID.match(record_id) else await self.get(record_id)
        if record is None or record.status != "active":
            raise NotFound(f"no memory record {record_id}")
        record.history.append({"version": record.version, "text": record.text, "source": asdict(record.source)})
        record.version, record.text, record.source = record.version + 1, " ".join(text.split()), source
        await self._write(record, "update")
        return record

    async def forget(self, record_id: str) -> MemoryRecord | None:
        record = None if RECORD_ID.match(record_id) else await self.get(record_id)
        if record is None or record.status != "active":
            return None
        record.status, record.forgotten_at = "forgotten", datetime.now(UTC).isoformat()
        await self._write(record, "forget")
        return record

    async def _write(self, record: MemoryRecord, op: str) -> None:
        pipe = self.redis.pipeline(transaction=True)
        pipe.set(keys.memory(f"rec:{record.id}"), record.dump())
        pipe.xadd(keys.memory("changes"), {"op": op, "id": record.id})
        await pipe.execute()
        self._wrote = True
        if self.index.shared:
            await self._apply(op, record)

    async def _apply(self, op: str, record: MemoryRecord) -> None:
        if op == "forget":
            await self.index.delete([record.id])
        else:
            await self.index.upsert([Item(record.id, record.kind, record.text)])

    # ---- reads ----------------------------------------------------------------------------------------

    async def get(self, record_id: str) -> MemoryRecord | None:
        if RECORD_ID.match(record_id):
            return _decoded(record_id, await self.redis.hmget(keys.rec(record_id), ["data", "rev"]))
        return _decoded(record_id, await self.redis.get(keys.memory(f"rec:{record_id}")))

    def records_changed(self) -> None:
        """A client or project was written by this process: the next recall catches up at once."""
        self._wrote = True

    async def recall(
        self, query: str, limit: int = 5, kinds: tuple[str, ...] = (), floor: float = MIN_SCORE
    ) -> list[Recalled]:
        await self.catch_up()
        hits = [h for h in await self.index.search(query, limit, kinds) if h.score >= floor]
        records = [await self.get(h.id) for h in hits]
        return [Recalled(r, h.score) for r, h in zip(records, hits, strict=True) if r and r.status == "active"]

    def new_request(self) -> None:
        """A kept runtime starts another job: its first recall looks for other processes' changes at once."""
        self._looked = False

    async def catch_up(self) -> None:
        """The index catches up with the records (its own business how: see `Recall.refresh`): at once for the
        first look of this runtime (a new request) and after its own writes, else at the index's own pace."""
        now = self._wrote or not self._looked
        self._wrote, self._looked = False, True
        await self.index.refresh(self, now=now)
        if self.index.shared and now:
            await self._sync_records()

    async def _sync_records(self) -> None:
        """A shared index gets remembered facts as they are written, and clients and projects from the change
        stream (any process writes them: an import, a worker applying an approved change), from a position kept
        in Redis. Two processes doing it at once write the same objects twice, which changes nothing."""
        offset = str(await self.redis.get(keys.memory("synced")) or "0")
        while changes := await self.changes(offset, 500):
            await self.index.upsert([i for i in changes.items if RECORD_ID.match(i.id)])
            await self.index.delete([i for i in changes.gone if RECORD_ID.match(i)])
            offset = changes.offset
            await self.redis.set(keys.memory("synced"), offset)

    async def changes(self, after: str, count: int) -> Changes | None:
        """The change stream after `after`, with the records as they are now (the `ChangeFeed` of recall)."""
        batch = await self.redis.xrange(keys.memory("changes"), f"({after}", "+", count=count)
        if not batch:
            return None
        ids = list(dict.fromkeys(str((change or {}).get("id", "")) for _, change in batch))
        pipe = self.redis.pipeline(transaction=False)
        for i in ids:
            pipe.hmget(keys.rec(i), ["data", "rev"]) if RECORD_ID.match(i) else pipe.get(keys.memory(f"rec:{i}"))
        found = [_decoded(i, raw) for i, raw in zip(ids, await pipe.execute(), strict=True)]
        items = [Item(r.id, r.kind, r.text) for r in found if r and r.status == "active"]
        gone = [i for i, r in zip(ids, found, strict=True) if r is None or r.status != "active"]
        return Changes(str(batch[-1][0]), items, gone)

    async def migrate(self) -> int:
        """Facts kept by earlier versions (one hash, `deputy:facts`) become records, once: an upgrade loses none.
        Run by maintenance when a worker starts, never on a read."""
        if not await self.redis.exists(OLD_FACTS) or not await self.redis.set(keys.memory("migrated"), "1", nx=True):
            return 0
        moved = 0
        for raw in (await self.redis.hgetall(OLD_FACTS)).values():
            old = json.loads(raw)
            number = await self.redis.incr(keys.memory("seq"))
            source = Source(by=str(old.get("source", "an earlier version")), at=str(old.get("at") or Source("").at))
            await self._write(MemoryRecord(f"m{number}", "fact", str(old["text"]), source), "add")
            moved += 1
        log.warning("moved %d remembered facts from the earlier format into memory records", moved)
        return moved

    async def known(self, needles: Sequence[str]) -> frozenset[str]:
        """Which of these (addresses, names) appear in an active record — for the policy "recipient in memory"."""
        found = set()
        for needle in needles:
            hits = await self.recall(needle, limit=5, floor=0.0) if needle else []
            if any(needle.lower() in h.record.text.lower() for h in hits):
                found.add(needle)
        return frozenset(found)

    async def forget_about(self, record_keys: Sequence[str]) -> int:
        """Facts that name a forgotten client (its address or exact name) go for good, and so do the turns of
        every chat's working set that do."""
        needles = [k.split(":", 1)[1] for k in record_keys if not k.startswith("domain:")]
        gone = 0
        for needle in needles:
            for hit in await self.recall(needle, limit=50, floor=0.0):
                if needle in hit.record.text.lower() and await self.forget(hit.record.id):
                    gone += 1
        return gone + await self._scrub_working_sets(needles)

    async def _scrub_working_sets(self, needles: Sequence[str]) -> int:
        gone = 0
        async for key in self.redis.scan_iter(match=keys.memory("ws:*")):
            turns = await self.redis.lrange(key, 0, -1)
            keep = [t for t in turns if not any(n in str(t).lower() for n in needles)]
            if len(keep) != len(turns):
                gone += len(turns) - len(keep)
                pipe = self.redis.pipeline(transaction=True)
                pipe.delete(key)
                pipe.rpush(key, *keep) if keep else None
                await pipe.execute()
        return gone


def _decoded(record_id: str, raw: Any) -> MemoryRecord | None:
    """A remembered fact from its JSON, or a client or project from its record's (data, rev)."""
    if RECORD_ID.match(record_id):
        entity = load_entity(*raw)
        return as_memory(entity) if entity else None
    return MemoryRecord.load(str(raw)) if raw else None


def as_memory(entity: Entity) -> MemoryRecord:
    """A client or project as recall shows and cites it: its text, its latest change's source, its version."""
    item, change = recall_item(entity), (entity.history[-1] if entity.history else None)
    source = Source(change.by, change.where, change.at.isoformat()) if change else Source("records")
    return MemoryRecord(entity.id, item.kind, item.text, source, version=max(entity.version, 1))


def _norm(text: str) -> str:
    return " ".join(text.lower().strip(" .!").split())


def _same_subject(recalled: Recalled, text: str) -> bool:
    """An update, not a new fact: the two differ at most in numbers ("net 30" → "net 45") and one plain word
    each ("short" → "long"). A different name, address or id ("Company7" vs "Company60") is another subject."""
    old = recalled.record.text
    mine, theirs = _words(text), _words(old)
    only_mine, only_theirs = mine - theirs, theirs - mine
    if not mine & theirs or len(only_mine) > 1 or len(only_theirs) > 1:
        return False
    names = {w.lower() for w in re.findall(r"\b[A-Z][\w'-]+", f"{text} {old}") if not w.isupper()}
    return not any(any(c.isdigit() for c in w) or "@" in w or w in names for w in only_mine | only_theirs)


def _words(text: str) -> set[str]:
    return {t for t in terms(text) if not t.startswith("~") and not t.isdigit()}
