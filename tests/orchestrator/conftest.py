from __future__ import annotations

from dataclasses import dataclass

import pytest

from orchestrator import core as bus
from orchestrator.commands import Inbound
from orchestrator.coordinator import Coordinator
from orchestrator.fakes import FakeClock, FakeConnector, FakeQueue, InMemoryRecords, InMemoryStore, RecordingOutbox
from orchestrator.model import Actor, ChatRef

CONSOLE = ChatRef("console", "local")
ME = Actor("console", "operator", "you")
STRANGER = Actor("slack", "U999", "stranger")
BOSS = Actor("slack", "U1", "sam")


@dataclass
class Core:
    coordinator: Coordinator
    store: InMemoryStore
    queue: FakeQueue
    outbox: RecordingOutbox
    records: InMemoryRecords
    email: FakeConnector
    clock: FakeClock

    async def say(self, text: str, *, actor: Actor = ME, event_id: str | None = None) -> None:
        eid = event_id or f"e{len(self.outbox.sent)}-{len(self.store.ledger)}-{text[:10]}"
        chat = CONSOLE if actor.platform == "console" else ChatRef(actor.platform, "D1")
        await self.coordinator.receive(Inbound(actor=actor, chat=chat, text=text, event_id=eid))


@pytest.fixture
def core() -> Core:
    store, queue, outbox, records = InMemoryStore(), FakeQueue(), RecordingOutbox(), InMemoryRecords()
    email, clock = FakeConnector(), FakeClock()
    coordinator = Coordinator(
        bus.Core(
            store=store,
            queue=queue,
            outbox=outbox,
            records=records,
            connectors={"email.send": email},
            clock=clock,
            config=bus.CoreConfig(operators=frozenset({BOSS.id})),
        )
    )
    return Core(coordinator, store, queue, outbox, records, email, clock)
