"""A `Core` on the in-memory fakes: every port is required, so a test names only the ones it looks at."""

from __future__ import annotations

from typing import Any

from orchestrator.core import Core, CoreConfig
from orchestrator.fakes.books import FakeSpend, InMemoryDigestBook, InMemoryLater
from orchestrator.fakes.connectors import FakeConnector
from orchestrator.fakes.records import InMemoryRecordBook
from orchestrator.fakes.stores import InMemoryFacts, InMemoryRecords, InMemoryStore
from orchestrator.fakes.world import FakeClock, FakeQueue, RecordingOutbox


def fake_core(**ports: Any) -> Core:
    """The ports given by keyword, the rest fakes; the ledger is the store's own (it keeps the events it
    commits), as the composition root wires the Redis store and ledger over one stream."""
    config: CoreConfig = ports.pop("config", None) or CoreConfig()
    store = ports.pop("store", None) or InMemoryStore()
    defaults: dict[str, Any] = {
        "queue": FakeQueue(),
        "outbox": RecordingOutbox(),
        "records": InMemoryRecords(),
        "connectors": {"email.send": FakeConnector()},
        "clock": FakeClock(),
        "facts": InMemoryFacts(),
        "digests": InMemoryDigestBook(),
        "spend": FakeSpend(budget=config.daily_budget_usd),
        "ids": store,
        "claims": store,
        "ledger": store,
        "later": InMemoryLater(),
    }
    merged = {**defaults, **ports}
    merged.setdefault("book", InMemoryRecordBook(store.ledger, store, merged["later"]))
    return Core(store=store, config=config, **merged)
