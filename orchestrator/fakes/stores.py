"""In-memory fakes of the stores: tasks and proposals with their ledger (revision checks on commit,
first-claim-wins, never-reused ids), the idempotency records, and remembered facts."""

from __future__ import annotations

import copy
import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from orchestrator.errors import Conflict
from orchestrator.events import Event
from orchestrator.model import Proposal, Task
from orchestrator.ports import ActionRecord, Record
from orchestrator.statuses import TASK_TO_SHOW


class InMemoryStore:
    def __init__(self) -> None:
        self.records: dict[str, Record] = {}
        self.ledger: list[Event] = []
        self.claimed: dict[str, str] = {}
        self.mapped: dict[str, str] = {}
        self.tallies: dict[str, int] = {}
        self._ids = itertools.count(1)
        self.unshown_ids: dict[str, None] = {}
        self.task_steps: dict[str, str] = {}

    async def get_task(self, task_id: str) -> Task | None:
        found = self.records.get(f"task:{task_id}")
        return copy.deepcopy(found) if isinstance(found, Task) else None

    async def get_proposal(self, proposal_id: str) -> Proposal | None:
        found = self.records.get(f"proposal:{proposal_id}")
        return copy.deepcopy(found) if isinstance(found, Proposal) else None

    async def commit(self, records: Sequence[Record], events: Sequence[Event]) -> None:
        keys = [_key(r) for r in records]
        for key, record in zip(keys, records, strict=True):
            current = self.records.get(key)
            if (current.rev if current else 0) != record.rev:
                raise Conflict(f"{key} changed")
        for key, record in zip(keys, records, strict=True):
            record.rev += 1  # the store owns revisions, as RedisStore does
            self._mark(self.records.get(key), record)
            self.records[key] = copy.deepcopy(record)
        self.ledger.extend(events)

    def _mark(self, before: Record | None, after: Record) -> None:
        """What RedisStore's commit does to its unshown set."""
        if isinstance(after, Task) and (before is None or before.status is not after.status):
            self.unshown_ids.pop(after.id, None)
            if after.status in TASK_TO_SHOW:
                self.unshown_ids[after.id] = None

    async def shown(self, task_id: str, status: str, ref: str = "") -> None:
        task = self.records.get(f"task:{task_id}")
        if isinstance(task, Task) and ref and not task.message_ref:
            task.message_ref = ref
        if task is not None and task.status.value == status:
            self.unshown_ids.pop(task_id, None)

    async def keep_ref(self, task_id: str, ref: str) -> None:
        task = self.records.get(f"task:{task_id}")
        if isinstance(task, Task) and not task.message_ref:
            task.message_ref = ref

    async def unshown(self, older_than_s: float = 0) -> list[str]:
        return list(self.unshown_ids)

    async def set_step(self, task_id: str, step: str) -> None:
        self.task_steps[task_id] = step

    async def steps(self, task_ids: Sequence[str]) -> dict[str, str]:
        return {t: self.task_steps[t] for t in task_ids if t in self.task_steps}

    async def new_id(self, prefix: str) -> str:
        return f"{prefix}{next(self._ids)}"

    async def id_for(self, key: str, prefix: str, ttl_seconds: int) -> tuple[str, bool]:
        if key in self.mapped:
            return self.mapped[key], False
        self.mapped[key] = await self.new_id(prefix)
        return self.mapped[key], True

    async def claim(self, key: str, ttl_seconds: int, owner: str = "") -> bool:
        if key in self.claimed:
            return bool(owner) and self.claimed[key] == owner
        self.claimed[key] = owner
        return True

    async def claim_with_id(self, key: str, ttl_seconds: int, owner: str, id_key: str) -> tuple[bool, str]:
        """One step, as RedisStore's script: an id that could not be drawn leaves no claim behind."""
        had = key in self.claimed
        if not await self.claim(key, ttl_seconds, owner):
            return False, ""
        try:
            return True, (await self.id_for(id_key, "t", ttl_seconds))[0]
        except Exception:
            if not had:
                self.claimed.pop(key, None)
            raise

    async def release(self, key: str) -> None:
        self.claimed.pop(key, None)

    async def tally(self, key: str, ttl_seconds: int) -> int:
        self.tallies[key] = self.tallies.get(key, 0) + 1
        return self.tallies[key]

    async def ids(self, kind: str, status: str) -> list[str]:
        return [r.id for k, r in self.records.items() if k.startswith(f"{kind}:") and r.status.value == status]

    async def read(self, *, after: str = "0", count: int = 1000) -> list[tuple[str, Event]]:
        start = int(after)
        return [(str(i + 1), e) for i, e in enumerate(self.ledger)][start : start + count]

    def position(self, at: datetime) -> str:
        return str(sum(e.at < at for e in self.ledger))


def _key(record: Record) -> str:
    return f"{'task' if isinstance(record, Task) else 'proposal'}:{record.id}"


@dataclass
class _Record:
    outcome: str | None = None
    handed_over: bool = False
    attempts: int = 1


class InMemoryRecords:
    def __init__(self) -> None:
        self.records: dict[str, _Record] = {}

    async def begin(self, key: str) -> ActionRecord | None:
        found = self.records.setdefault(key, _Record(attempts=0))
        found.attempts += 1
        return None if found.attempts == 1 else ActionRecord(key, found.outcome, found.handed_over)

    async def handed_over(self, key: str) -> None:
        self.records.setdefault(key, _Record()).handed_over = True

    async def finish(self, key: str, outcome: str) -> None:
        self.records.setdefault(key, _Record()).outcome = outcome

    async def forget(self, key: str) -> None:
        self.records.pop(key, None)


class InMemoryFacts:
    def __init__(self) -> None:
        self.facts: dict[str, str] = {}

    async def remember(self, text: str, *, source: str) -> str:
        fact_id = f"f{len(self.facts) + 1}"
        self.facts[fact_id] = text
        return fact_id

    async def recall(self, query: str, limit: int = 3) -> list[tuple[str, str]]:
        words = {w.strip("?.,!").lower() for w in query.split()}
        return [(k, v) for k, v in self.facts.items() if words & set(v.lower().split())][:limit]

    async def forget(self, fact_id: str) -> str | None:
        return self.facts.pop(fact_id, None)

    async def forget_about(self, keys: Sequence[str]) -> int:
        needles = [k.split(":", 1)[1] for k in keys if not k.startswith("domain:")]
        gone = [i for i, text in self.facts.items() if any(n in text.lower() for n in needles)]
        for fact_id in gone:
            del self.facts[fact_id]
        return len(gone)

    async def known(self, needles: Sequence[str]) -> frozenset[str]:
        return frozenset(n for n in needles if any(n.lower() in f.lower() for f in self.facts.values()))
