"""`bootstrap(...)`, the composition root's one constructor of the core and its bus, takes any ports: the same
call the wiring makes with Redis adapters works with the in-memory fakes."""

from __future__ import annotations

from bot.wiring import bootstrap
from orchestrator.commands import Inbound
from orchestrator.core import CoreConfig
from orchestrator.fakes.books import FakeSpend, InMemoryDigestBook, InMemoryLater
from orchestrator.fakes.connectors import FakeConnector
from orchestrator.fakes.records import InMemoryRecordBook
from orchestrator.fakes.stores import InMemoryFacts, InMemoryRecords, InMemoryStore
from orchestrator.fakes.world import FakeClock, FakeQueue, RecordingOutbox
from orchestrator.model import Actor, ChatRef

ME = Actor("console", "operator", "you")


async def test_bootstrap_builds_a_working_bus_from_fake_ports() -> None:
    queue, outbox, store = FakeQueue(), RecordingOutbox(), InMemoryStore()
    bus = bootstrap(
        store=store,
        ids=store,
        claims=store,
        ledger=store,
        facts=InMemoryFacts(),
        digests=InMemoryDigestBook(),
        spend=FakeSpend(),
        later=InMemoryLater(),
        book=InMemoryRecordBook(),
        queue=queue,
        outbox=outbox,
        records=InMemoryRecords(),
        connectors={"email.send": FakeConnector()},
        clock=FakeClock(),
        config=CoreConfig(operators=frozenset({ME.id})),
    )
    await bus.receive(Inbound(actor=ME, chat=ChatRef("console", "local"), text="plan the launch", event_id="e1"))
    assert len(queue.runs) == 1 and outbox.texts
