from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from connectors import budget, email, notes, webhook
from orchestrator import core as bus
from orchestrator.commands import Inbound
from orchestrator.coordinator import Coordinator
from orchestrator.fakes.connectors import FakeConnector
from orchestrator.fakes.core import fake_core
from orchestrator.fakes.stores import InMemoryRecords, InMemoryStore
from orchestrator.fakes.world import FakeClock, FakeQueue, RecordingOutbox
from orchestrator.kinds import minutes_saved
from orchestrator.model import Actor, ChatRef
from orchestrator.policies import Policies
from orchestrator.ports import Connector

CONSOLE = ChatRef("console", "local")
ME = Actor("console", "operator", "you")
STRANGER = Actor("slack", "U999", "stranger")
BOSS = Actor("slack", "U1", "sam")
NOTES, WEBHOOK, BUDGET = notes.TRAITS, webhook.TRAITS, budget.TRAITS
"""The built-in kinds' traits, for fake connectors of those kinds."""
MINUTES = minutes_saved([email.TRAITS, NOTES, WEBHOOK])
DEFAULTS = Policies(minutes_saved=tuple(sorted(MINUTES.items())))
"""No rules, and the minutes saved the connectors declare (as the composition root loads them)."""


@dataclass
class Core:
    coordinator: Coordinator
    store: InMemoryStore
    queue: FakeQueue
    outbox: RecordingOutbox
    records: InMemoryRecords
    email: FakeConnector
    clock: FakeClock

    def rewire(self, connectors: dict[str, Connector], **config: Any) -> None:
        """The same store, queue and clock behind a new coordinator: these connectors beside the email one, and
        this configuration (the operator is BOSS unless said otherwise)."""
        facts = config.pop("facts", None)
        ports = {"facts": facts} if facts is not None else {}
        self.coordinator = Coordinator(
            fake_core(
                store=self.store,
                queue=self.queue,
                outbox=self.outbox,
                records=self.records,
                clock=self.clock,
                connectors={"email.send": self.email, **connectors},
                config=bus.CoreConfig(**{"operators": frozenset({BOSS.id}), "policies": DEFAULTS, **config}),
                **ports,
            )
        )

    async def say(self, text: str, *, actor: Actor = ME, event_id: str | None = None) -> None:
        eid = event_id or f"e{len(self.outbox.sent)}-{len(self.store.ledger)}-{text[:10]}"
        chat = CONSOLE if actor.platform == "console" else ChatRef(actor.platform, "D1")
        await self.coordinator.receive(Inbound(actor=actor, chat=chat, text=text, event_id=eid))


@pytest.fixture
def core() -> Core:
    store, queue, outbox, records = InMemoryStore(), FakeQueue(), RecordingOutbox(), InMemoryRecords()
    email, clock = FakeConnector(), FakeClock()
    coordinator = Coordinator(
        fake_core(
            store=store,
            queue=queue,
            outbox=outbox,
            records=records,
            connectors={"email.send": email},
            clock=clock,
            config=bus.CoreConfig(operators=frozenset({BOSS.id}), policies=DEFAULTS),
        )
    )
    return Core(coordinator, store, queue, outbox, records, email, clock)
