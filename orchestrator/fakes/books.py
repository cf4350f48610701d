"""In-memory fakes of what the scheduler and the budget keep: the digest book, model spend, and what is
scheduled for later (with the same moves as memory/later.py)."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime

from orchestrator.model import ChatRef
from orchestrator.ports import ModelSpend, Scheduled


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


class InMemoryLater:
    """What is scheduled for later, with the same moves as memory/later.py: scheduled → firing → fired, or
    scheduled → cancelled; `put` is the `task.later` connector's (a key put twice is scheduled once)."""

    def __init__(self) -> None:
        self.items: dict[str, Scheduled] = {}
        self.unsaid_keys: list[str] = []

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

    async def fired(self, key: str, task_id: str, *, unsaid: bool = False) -> bool:
        item = self.items.get(key)
        if item is None or item.status in ("fired", "cancelled"):
            return False
        self.items[key] = replace(item, status="fired", task_id=task_id)
        if unsaid:
            self.unsaid_keys.append(key)
        return True

    async def said(self, key: str) -> None:
        if key in self.unsaid_keys:
            self.unsaid_keys.remove(key)

    async def unsaid(self, older_than_s: float = 0) -> list[str]:
        return list(self.unsaid_keys)

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
