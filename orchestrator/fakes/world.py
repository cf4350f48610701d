"""In-memory fakes of what the core tells and asks the world: the job queue, the chat outbox, the clock and
the liveness signals."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from orchestrator.model import ChatRef
from orchestrator.outbound import Outbound


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
class FakeClock:
    current: datetime = field(default_factory=lambda: datetime(2026, 11, 3, 9, 14, tzinfo=UTC))

    def now(self) -> datetime:
        return self.current

    def advance(self, seconds: float) -> None:
        self.current += timedelta(seconds=seconds)


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
