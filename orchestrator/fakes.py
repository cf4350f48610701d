"""In-memory fakes of every port, used by the core's unit tests and handy in a REPL. They keep the same
promises as the Redis adapters: revision checks on commit, first-claim-wins, hand-over/outcome records."""

from __future__ import annotations

import copy
import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from orchestrator.errors import (
    BadRequest,
    Conflict,
    ConnectorError,
    PermanentConnectorError,
    TransientConnectorError,
)
from orchestrator.events import Event
from orchestrator.kinds import Preview, Traits
from orchestrator.model import ChatRef, Proposal, Task
from orchestrator.outbound import Outbound
from orchestrator.ports import ActionRecord, HandOver, ModelSpend, Record, Scheduled, no_hand_over


class InMemoryStore:
    def __init__(self) -> None:
        self.records: dict[str, Record] = {}
        self.ledger: list[Event] = []
        self.claimed: dict[str, str] = {}
        self.mapped: dict[str, str] = {}
        self.tallies: dict[str, int] = {}
        self._ids = itertools.count(1)

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
            self.records[key] = copy.deepcopy(record)
        self.ledger.extend(events)

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


class FakeQueue:
    def __init__(self) -> None:
        self.runs: list[str] = []
        self.applies: list[str] = []
        self.apply_at: dict[str, datetime | None] = {}
        self.revisions: list[tuple[str, int]] = []

    async def enqueue_run(self, task_id: str, *, again: bool = False) -> None:
        self.runs.append(task_id)

    async def enqueue_apply(self, proposal_id: str, at: datetime | None = None, *, again: bool = False) -> None:
        self.applies.append(proposal_id)
        self.apply_at[proposal_id] = at

    async def enqueue_revise(self, proposal_id: str, version: int) -> None:
        self.revisions.append((proposal_id, version))


class RecordingOutbox:
    """Keeps every message, edits included, as (chat, ref, message)."""

    def __init__(self) -> None:
        self.sent: list[tuple[ChatRef, str, Outbound]] = []
        self._refs = itertools.count(1)

    async def send(self, chat: ChatRef, message: Outbound) -> str | None:
        ref = f"m{next(self._refs)}"
        self.sent.append((chat, ref, message))
        return ref

    async def edit(self, chat: ChatRef, ref: str, message: Outbound) -> None:
        self.sent.append((chat, ref, message))

    @property
    def texts(self) -> list[str]:
        return [m.text for _, _, m in self.sent]


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

    async def known(self, needles: Sequence[str]) -> frozenset[str]:
        return frozenset(n for n in needles if any(n.lower() in f.lower() for f in self.facts.values()))


@dataclass
class FakeClock:
    current: datetime = field(default_factory=lambda: datetime(2026, 11, 3, 9, 14, tzinfo=UTC))

    def now(self) -> datetime:
        return self.current

    def advance(self, seconds: float) -> None:
        self.current += timedelta(seconds=seconds)


class Crashed(BaseException):
    """The process running the connector died here: nothing after this point runs (no outcome is recorded).
    A BaseException, so no `except Exception` on the way out mistakes it for a connector error."""


@dataclass
class FakeConnector:
    """Counts deliveries by key. `fail_next` raises a transient error that many times first; `refuse_next`
    a permanent one; `crash_next` makes the next call die, `"before"` its hand-over (nothing delivered) or
    `"after"` it (the far side got it, Deputy never heard back); `lose_next` hands over, delivers nothing and
    reports a dropped connection (it can't tell)."""

    kind: str = "email.send"
    resend_safe: bool = False
    declared: Traits | None = None
    """Its kind's traits; without them it leaves Deputy and saves no one's time."""
    blocked: str = ""
    fail_next: int = 0
    refuse_next: int = 0
    crash_next: str = ""
    lose_next: bool = False
    delivered: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    def validate(self, fields: dict[str, Any]) -> dict[str, Any]:
        if "@" not in str(fields.get("to", "")):
            raise BadRequest(f"'{fields.get('to')}' is not an email address.")
        return dict(fields)

    @property
    def traits(self) -> Traits:
        return self.declared or Traits(self.kind, outward=True)

    def preview(self, fields: dict[str, Any]) -> Preview:
        subject, body = str(fields.get("subject", "")), str(fields.get("body", ""))
        return Preview(f"Send '{subject}' to {fields['to']}", str(fields["to"]), subject=subject, body=body)

    def unavailable(self) -> str:
        return self.blocked

    async def apply(self, fields: dict[str, Any], idempotency_key: str, handing_over: HandOver = no_hand_over) -> str:
        if self.fail_next:
            self.fail_next -= 1
            raise TransientConnectorError("connection refused")
        if self.refuse_next:
            self.refuse_next -= 1
            raise PermanentConnectorError(f"{self._target(fields)} refused it with 400: bad field")
        crash, self.crash_next = self.crash_next, ""
        if crash == "before":
            raise Crashed("killed before the hand-over")
        await handing_over()
        if self.lose_next:
            self.lose_next = False
            raise ConnectorError("the connection broke mid-send")
        self.delivered.append((idempotency_key, fields))
        if crash == "after":
            raise Crashed("killed after the hand-over")
        return f"Sent to {self._target(fields)}"

    def _target(self, fields: dict[str, Any]) -> str:
        return str(fields.get("to") or fields.get("title") or self.kind)


@dataclass
class InMemoryDigestBook:
    saved: dict[str, list[tuple[str, int]]] = field(default_factory=dict)
    versions: dict[tuple[ChatRef, str], int] = field(default_factory=dict)
    sent_days: set[str] = field(default_factory=set)
    position: str = "0"
    started: datetime | None = None

    async def save(self, digest_id: str, entries: list[tuple[str, int]]) -> None:
        self.saved[digest_id] = list(entries)

    async def entries(self, digest_id: str) -> list[tuple[str, int]]:
        return list(self.saved.get(digest_id, []))

    async def showed(self, chat: ChatRef, versions: dict[str, int]) -> None:
        self.versions.update({(chat, pid): v for pid, v in versions.items()})

    async def shown(self, chat: ChatRef, proposal_id: str) -> int | None:
        return self.versions.get((chat, proposal_id))

    async def sent(self, date: str) -> bool:
        return date in self.sent_days

    async def mark_sent(self, date: str) -> None:
        self.sent_days.add(date)

    async def cursor(self) -> str:
        return self.position

    async def advance(self, cursor: str) -> None:
        self.position = cursor

    async def since(self, now: datetime) -> datetime:
        self.started = self.started or now
        return self.started


@dataclass
class FakeSpend:
    days: dict[str, float] = field(default_factory=dict)
    budget: float = 5.0
    raised: dict[str, float] = field(default_factory=dict)
    per_model: dict[str, list[ModelSpend]] = field(default_factory=dict)

    async def day(self, date: str) -> float:
        return self.days.get(date, 0.0)

    async def models(self, date: str) -> list[ModelSpend]:
        return self.per_model.get(date, [])

    async def cap(self, date: str) -> float:
        return self.budget + self.raised.get(date, 0.0)


@dataclass
class FakeLiveness:
    alive: int = 1
    failing: dict[str, int] = field(default_factory=dict)
    flags: set[str] = field(default_factory=set)
    fault: str = ""

    async def workers(self) -> int:
        return self.alive

    async def storage(self) -> str:
        return self.fault

    async def record(self, platform: str, ok: bool) -> None:
        self.failing[platform] = 0 if ok else self.failing.get(platform, 0) + 1

    async def failures(self, platform: str) -> int:
        return self.failing.get(platform, 0)

    async def flag(self, name: str, on: bool) -> bool:
        changed = (name in self.flags) != on
        (self.flags.add if on else self.flags.discard)(name)
        return changed


class InMemoryLater:
    """What is scheduled for later, with the same moves as memory/later.py: scheduled → firing → fired, or
    scheduled → cancelled; `put` is the `task.later` connector's (a key put twice is scheduled once)."""

    def __init__(self) -> None:
        self.items: dict[str, Scheduled] = {}

    def put(self, item: Scheduled) -> None:
        self.items.setdefault(item.key, item)

    async def due(self, now: datetime) -> list[Scheduled]:
        waiting = [i for i in self.items.values() if i.status in ("scheduled", "firing") and i.at <= now]
        return sorted(waiting, key=lambda i: i.at)

    async def take(self, key: str) -> Scheduled | None:
        item = self.items.get(key)
        if item is None or item.status not in ("scheduled", "firing"):
            return None
        self.items[key] = replace(item, status="firing")
        return self.items[key]

    async def fired(self, key: str, task_id: str) -> bool:
        item = self.items.get(key)
        if item is None or item.status in ("fired", "cancelled"):
            return False
        self.items[key] = replace(item, status="fired", task_id=task_id)
        return True

    async def cancel(self, key: str) -> Scheduled | None:
        item = self.items.get(key)
        if item is not None and item.status == "scheduled":
            self.items[key] = replace(item, status="cancelled")
        return self.items.get(key)

    async def upcoming(self, limit: int = 10) -> list[Scheduled]:
        waiting = [i for i in self.items.values() if i.status in ("scheduled", "firing")]
        return sorted(waiting, key=lambda i: i.at)[:limit]

    async def of(self, proposal_id: str) -> list[Scheduled]:
        return [i for k, i in sorted(self.items.items()) if i.proposal_id == proposal_id]


LATER = Traits("task.later", noun="request", done="scheduled")


@dataclass
class FakeLaterConnector:
    """`task.later` without Redis: applying schedules the request in an `InMemoryLater`."""

    later: InMemoryLater
    kind: str = "task.later"
    resend_safe: bool = True
    traits: Traits = LATER

    def validate(self, fields: dict[str, Any]) -> dict[str, Any]:
        if not str(fields.get("request", "")).strip():
            raise BadRequest("A task for later needs what to do then.")
        return {"request": fields["request"], "at": str(fields["at"]), "remind": bool(fields.get("remind"))}

    def preview(self, fields: dict[str, Any]) -> Preview:
        return Preview(summary=f"At {fields['at']} I'll draft: {fields['request']}", target="this chat")

    def unavailable(self) -> str:
        return ""

    async def apply(self, fields: dict[str, Any], idempotency_key: str, handing_over: HandOver = no_hand_over) -> str:
        at = datetime.fromisoformat(fields["at"])
        self.later.put(Scheduled(idempotency_key, fields["request"], at, fields["remind"]))
        return f"Scheduled for {fields['at']}"
