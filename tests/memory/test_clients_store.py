"""The Redis record book on a real Redis: a record and its ledger event go together, a unique key has one owner,
a stale revision is refused, a forgotten key stays buried, timelines keep one line per ref; and the record.*
connector applies a proposed change once."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest

from bot.wiring import Runtime
from connectors.records import RecordCreate, RecordUpdate
from memory.clients import RedisRecordBook
from memory.later import RedisLater
from orchestrator.errors import BadRequest, Conflict, PermanentConnectorError
from orchestrator.model import Task
from orchestrator.ports import Scheduled
from orchestrator.records import Entity, Link, Schema, Source, changed
from tests.orchestrator.conftest import CONSOLE, ME

AT = datetime(2026, 12, 4, 9, 0, tzinfo=UTC)
SRC = Source("you", "console:e1", AT)


def client(record_id: str, name: str, *emails: str) -> Entity:
    entity = Entity(record_id, "client")
    entity.put("name", name, SRC)
    entity.put("emails", list(emails), SRC)
    return entity


async def test_a_record_and_its_event_go_together_and_keys_find_it(runtime: Runtime) -> None:
    book = RedisRecordBook(runtime.redis)
    jane = client("c1", "Jane Doe", "jane@acme.com")
    await book.save([jane], [changed(jane, jane.history, SRC, created=True)])
    assert await book.find("email:jane@acme.com") == ["c1"] and await book.find("domain:acme.com") == ["c1"]
    assert await book.find("name:jane doe") == ["c1"]
    [(_, event)] = await runtime.ledger.read()
    assert event.type == "RecordCreated" and event.detail["record"] == "c1"
    again = await book.get("c1")
    assert again is not None and again.fields == jane.fields and again.rev == 1
    with pytest.raises(BadRequest, match=r"jane@acme\.com is already record c1.s"):
        await book.save([client("c2", "Other", "jane@acme.com")], [])
    stale = await book.get("c1")
    assert stale is not None
    again.put("terms", "net 30", SRC)
    await book.save([again], [])
    with pytest.raises(Conflict):
        await book.save([stale], [])


async def test_two_writers_of_one_key_resolve_to_one(runtime: Runtime) -> None:
    book = RedisRecordBook(runtime.redis)
    results = await asyncio.gather(
        *(book.save([client(f"c{i}", f"N{i}", "same@acme.com")], []) for i in range(5)), return_exceptions=True
    )
    assert sum(r is None for r in results) == 1
    assert len(await book.find("email:same@acme.com")) == 1


async def test_forget_buries_the_keys_and_the_timeline(runtime: Runtime) -> None:
    book = RedisRecordBook(runtime.redis)
    piotr = client("c1", "Piotr Kowalski", "piotr@northwind.example")
    await book.save([piotr], [])
    await book.link(["c1"], Link(AT, "email.send", "Sent", "p1:0"))
    await book.link(["c1"], Link(AT, "email.send", "Sent", "p1:0"))
    assert len(await book.timeline("c1")) == 1
    await book.forget(piotr, [])
    assert await book.get("c1") is None and await book.find("email:piotr@northwind.example") == []
    assert await book.timeline("c1") == [] and await book.buried(["email:piotr@northwind.example"])
    with pytest.raises(BadRequest, match="was forgotten"):
        await book.save([client("c9", "Piotr Kowalski", "piotr@northwind.example")], [])
    names = [str(k) for k in await runtime.redis.keys("deputy:rec:*")]
    dumps = [str(await runtime.redis.hgetall(k)) for k in names if await runtime.redis.type(k) == "hash"]
    assert not any("piotr" in text or "northwind" in text for text in names + dumps)


async def test_the_connector_applies_a_change_once_and_shows_it_as_a_field_change(runtime: Runtime) -> None:
    book = RedisRecordBook(runtime.redis)
    create, update = RecordCreate(book, Schema()), RecordUpdate(book, Schema())
    fields = create.validate({"type": "client", "name": "Acme", "email": "jane@acme.com", "terms": "net 30"})
    assert await create.apply(fields, "p1:0") == "Created client Acme (c1)"
    assert await create.apply(fields, "p1:0") == "Updated client Acme (c1)"
    change = update.validate({"record": "acme.com", "field": "terms", "value": "net 45", "before": "net 30"})
    assert update.preview(change).summary == "Update acme.com — terms: net 30 → net 45"
    assert await update.apply(change, "p2:0") == "Updated Acme: terms net 30 → net 45"
    assert await update.apply(change, "p2:0") == "Updated Acme: terms is net 45"
    acme = await book.get("c1")
    assert acme is not None and acme.version == 4 and acme.sourced("terms") is not None
    assert acme.sourced("terms").where == "p2:0"  # type: ignore[union-attr]
    await book.forget(acme, [])
    with pytest.raises(PermanentConnectorError, match="was forgotten"):
        await create.apply(fields, "p3:0")


async def test_who_reads_the_card_and_what_is_open_in_one_script(runtime: Runtime) -> None:
    """The record with its timeline, running tasks, requests for later and projects come from one call."""
    book = RedisRecordBook(runtime.redis)
    piotr = client("c1", "Piotr Kowalski", "piotr@northwind.example")
    site = Entity("j1", "project")
    site.put("name", "Website", SRC)
    site.put("client", "Piotr Kowalski", SRC)
    await book.save([piotr, site], [])
    await book.link(["c1"], Link(AT, "email.send", "Sent to piotr@northwind.example", "p1:0"))
    busy = Task(id="t1", text="email Piotr Kowalski", actor=ME, chat=CONSOLE, event_id="e1", created_at=AT)
    await runtime.store.commit([busy], [busy.submitted(AT)])
    await RedisLater(runtime.redis).put(Scheduled("p2:0", "follow up with Piotr Kowalski", AT))
    [(entity, last)], now = await book.who(["email:piotr@northwind.example"], 5, 10)
    assert entity.id == "c1" and [link.text for link in last] == ["Sent to piotr@northwind.example"]
    assert [t.id for t in now.running] == ["t1"] and now.pending == []
    assert [s.request for s in now.later] == ["follow up with Piotr Kowalski"]
    assert [p.name for p in now.projects] == ["Website"]
    assert (await book.who(["email:nobody@else.example"], 5, 10))[0] == []
