"""The in-memory `RecordBook`: the Redis adapter's rules (revisions, unique keys, tombstones) in dicts."""

from __future__ import annotations

import copy
import itertools
from collections.abc import Sequence

from orchestrator.errors import BadRequest, Conflict
from orchestrator.events import Event
from orchestrator.ports import Later, OpenWork, TaskStore
from orchestrator.records import Entity, Link, tomb, unique


class InMemoryRecordBook:
    def __init__(
        self, ledger: list[Event] | None = None, store: TaskStore | None = None, later: Later | None = None
    ) -> None:
        self.store, self.later = store, later
        self.entities: dict[str, Entity] = {}
        self.tombs: set[str] = set()
        self.lines: dict[str, dict[str, Link]] = {}
        self.ledger = ledger if ledger is not None else []
        self._seq = itertools.count(1)

    async def get(self, record_id: str) -> Entity | None:
        return copy.deepcopy(self.entities.get(record_id))

    async def find(self, key: str) -> list[str]:
        return sorted(i for i, e in self.entities.items() if key in e.fixed_keys())

    async def resolve(self, keys: Sequence[str]) -> list[Entity]:
        for key in keys:
            found = [e for e in [await self.get(i) for i in await self.find(key)] if e is not None]
            if found:
                return found
        return []

    async def cards(self, keys: Sequence[str], lines: int) -> list[tuple[Entity, list[Link]]]:
        return [(e, await self.timeline(e.id, lines)) for e in await self.resolve(keys)]

    async def who(
        self, keys: Sequence[str], lines: int, limit: int
    ) -> tuple[list[tuple[Entity, list[Link]]], OpenWork]:
        """What the Redis script reads at once, from the store and the schedule this book was given."""
        pending, running = [], []
        if self.store is not None:
            ids = sorted(await self.store.ids("proposal", "pending"))[:limit]
            pending = [p for p in [await self.store.get_proposal(i) for i in ids] if p is not None]
            busy = [i for s in ("received", "running", "applying") for i in await self.store.ids("task", s)]
            running = [t for t in [await self.store.get_task(i) for i in sorted(busy)[:limit]] if t is not None]
        later = await self.later.upcoming(limit) if self.later is not None else []
        projects = [e for i in (await self.ids("project"))[:limit] if (e := await self.get(i))]
        return await self.cards(keys, lines), OpenWork(pending, running, later, projects)

    async def ids(self, kind: str) -> list[str]:
        return sorted(i for i, e in self.entities.items() if e.kind == kind)

    async def new_id(self, kind: str) -> str:
        return f"{'j' if kind == 'project' else 'c'}{next(self._seq)}"

    async def buried(self, keys: Sequence[str]) -> bool:
        return any(tomb(k) in self.tombs for k in keys)

    async def save(self, entities: Sequence[Entity], events: Sequence[Event], *, drop: Sequence[str] = ()) -> None:
        ours = {e.id for e in entities} | set(drop)
        for entity in entities:
            have = self.entities.get(entity.id)
            if (have.rev if have else 0) != entity.rev:
                raise Conflict(f"record {entity.id} changed")
            for key in filter(unique, entity.fixed_keys()):
                owner = next((i for i, e in self.entities.items() if key in e.fixed_keys() and i not in ours), None)
                if owner or tomb(key) in self.tombs:
                    raise BadRequest(f"{key} is taken")
        for entity in entities:
            entity.rev += 1
            self.entities[entity.id] = copy.deepcopy(entity)
        for gone in drop:
            self.entities.pop(gone, None)
        self.ledger.extend(events)

    async def forget(self, entity: Entity, events: Sequence[Event]) -> None:
        self.tombs |= {tomb(k) for k in entity.fixed_keys() if unique(k)}
        self.entities.pop(entity.id, None)
        self.lines.pop(entity.id, None)
        self.ledger.extend(events)

    async def link(self, record_ids: Sequence[str], link: Link) -> None:
        for record_id in record_ids:
            self.lines.setdefault(record_id, {})[link.ref] = link

    async def timeline(self, record_id: str, limit: int = 10) -> list[Link]:
        lines = sorted(self.lines.get(record_id, {}).values(), key=lambda link: link.at, reverse=True)
        return lines[:limit]
