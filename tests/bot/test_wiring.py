"""`bootstrap(...)`, the composition root's one constructor of the core and its bus, takes any ports: the same
call the wiring makes with Redis adapters works with the in-memory fakes."""

from __future__ import annotations

from bot.wiring import bootstrap
from orchestrator.commands import Inbound
from orchestrator.core import CoreConfig
from orchestrator.fakes import FakeClock, FakeConnector, FakeQueue, InMemoryRecords, InMemoryStore, RecordingOutbox
from orchestrator.model import Actor, ChatRef

ME = Actor("console", "operator", "you")


async def test_bootstrap_builds_a_working_bus_from_fake_ports() -> None:
    queue, outbox = FakeQueue(), RecordingOutbox()
    bus = bootstrap(
        store=InMemoryStore(),
        queue=queue,
        outbox=outbox,
        records=InMemoryRecords(),
        connectors={"email.send": FakeConnector()},
        clock=FakeClock(),
        config=CoreConfig(operators=frozenset({ME.id})),
    )
    await bus.receive(Inbound(actor=ME, chat=ChatRef("console", "local"), text="plan the launch", event_id="e1"))
    assert len(queue.runs) == 1 and outbox.texts
