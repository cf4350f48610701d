"""Records in the core: typed edits apply at once with their source, `/who` finds a record by address, domain or
exact name only, `/merge` joins two records and their timelines, `/forget client` leaves a tombstone."""

from __future__ import annotations

import pytest

from orchestrator import commands as cmd
from orchestrator.errors import BadRequest
from orchestrator.fakes.records import InMemoryRecordBook
from orchestrator.records import CLIENT, Entity, Link, Schema, Source, check, lookup_keys, merge, split_edit
from tests.orchestrator.conftest import STRANGER, Core
from tests.orchestrator.test_coordinator import staged


def book(core: Core) -> InMemoryRecordBook:
    found = core.coordinator.core.book
    assert isinstance(found, InMemoryRecordBook)
    return found


async def test_a_typed_edit_creates_then_changes_a_client_with_its_source(core: Core) -> None:
    await core.say("/client Acme Corp email jane@acme.com")
    assert "New client Acme Corp (c1). Acme Corp: emails (none) → jane@acme.com (v2, by you)." in core.outbox.texts[-1]
    await core.say("/client acme corp terms net 30")
    await core.say("/client Acme Corp terms net 45")
    assert "Acme Corp: terms net 30 → net 45 (v4, by you)" in core.outbox.texts[-1]
    await core.say("/who acme.com")
    card = core.outbox.texts[-1]
    assert card.startswith("Acme Corp (c1) · client · v4")
    assert "terms: net 45 — you, 3 Nov 09:14 (console:" in card
    types = [e.type for e in core.store.ledger]
    assert types.count("RecordCreated") == 1 and types.count("RecordChanged") == 2


async def test_who_finds_by_fixed_keys_only(core: Core) -> None:
    await core.say("/client Piotr Kowalski email piotr@northwind.example")
    for query in ("piotr@northwind.example", "northwind.example", "piotr kowalski"):
        await core.say(f"/who {query}")
        assert core.outbox.texts[-1].startswith("Piotr Kowalski (c1)")
    await core.say("/who Piotr K")
    assert "No client or project matches 'Piotr K'" in core.outbox.texts[-1]


async def test_who_shows_pending_proposals_and_what_was_sent(core: Core) -> None:
    await core.say("/client Jane Doe email jane@acme.com")
    pid = await staged(core)
    await book(core).link(["c1"], Link(core.clock.now(), "email.send", "Sent to jane@acme.com", "px:0"))
    await core.say("/who jane@acme.com")
    card = core.outbox.texts[-1]
    assert f"waiting: {pid} Email jane@acme.com about invoice 42  (/approve {pid})" in card
    assert "3 Nov 09:14 email.send: Sent to jane@acme.com" in card


async def test_merge_joins_records_and_timelines(core: Core) -> None:
    await core.say("/client Acme email jane@acme.com")
    await core.say("/client Acme Inc email bob@acme.com")
    await book(core).link(["c2"], Link(core.clock.now(), "email.send", "Sent to bob@acme.com", "p1:0"))
    await core.say("/merge Acme and Acme Inc")
    assert "Merged Acme Inc (c2) into Acme (c1)" in core.outbox.texts[-1]
    await core.say("/who bob@acme.com")
    card = core.outbox.texts[-1]
    assert card.startswith("Acme (c1)") and "aliases Acme Inc" in card and "Sent to bob@acme.com" in card
    assert await book(core).get("c2") is None


async def test_forget_leaves_a_tombstone_and_a_redacted_event(core: Core) -> None:
    await core.say("/client Piotr Kowalski email piotr@northwind.example")
    await core.say("/forget client Piotr Kowalski")
    assert "Forgot client c1 for good" in core.outbox.texts[-1]
    await core.say("/who piotr@northwind.example")
    assert "No client or project matches" in core.outbox.texts[-1]
    assert core.store.ledger[-1].summary == "client c1 forgotten"
    await core.say("/client Piotr Kowalski phone 123")
    assert "was forgotten" in core.outbox.texts[-1] or "taken" in core.outbox.texts[-1]


def test_the_pure_rules() -> None:
    assert lookup_keys("Jane@Acme.com") == ["email:jane@acme.com"]
    assert lookup_keys("acme.com")[0] == "domain:acme.com"
    assert split_edit(Schema(), "Acme Corp next terms net 45") == ("client", "Acme Corp next", "terms", "net 45")
    assert split_edit(Schema(), "project Site redo next call Bob") == ("project", "Site redo", "next_step", "call Bob")
    with pytest.raises(BadRequest, match="status is one of lead, active, past"):
        check(CLIENT["status"], "status", "gone")
    src = Source("you", "t1", __import__("datetime").datetime(2026, 1, 1))
    a, b = Entity("c1", "client"), Entity("c2", "client")
    a.put("name", "Acme", src), b.put("name", "ACME Inc", src), b.put("emails", ["x@acme.com"], src)
    merge(a, b, src)
    assert a.fields["aliases"] == ["ACME Inc"] and a.fields["emails"] == ["x@acme.com"] and a.merged == ["c2"]
    assert "email:x@acme.com" in a.fixed_keys() and "domain:acme.com" in a.fixed_keys()


async def test_a_stranger_can_neither_read_nor_change_records(core: Core) -> None:
    await core.say("/client Acme email jane@acme.com")
    stranger = STRANGER
    await core.say("/who Acme", actor=stranger)
    assert "You can't read client records" in core.outbox.texts[-1]
    await core.say("/forget client Acme", actor=stranger, event_id="x2")
    assert await book(core).get("c1") is not None


async def test_an_applied_email_is_on_its_clients_timeline_once_looked_up_once(core: Core) -> None:
    await core.say("/client Jane Doe email jane@acme.com")
    pid = await staged(core)
    await core.say(f"/approve {pid}")
    looked: list[str] = []
    real_find = book(core).find

    async def find(key: str) -> list[str]:
        looked.append(key)
        return await real_find(key)

    book(core).find = find  # type: ignore[method-assign]
    await core.coordinator.handle(cmd.ApplyProposal(pid))
    applied = next(e for e in core.store.ledger if e.type == "ActionApplied")
    assert applied.detail["records"] == ["c1"] and looked == ["email:jane@acme.com"]
    await core.say("/who jane@acme.com")
    assert core.outbox.texts[-1].count("email.send: Sent to jane@acme.com") == 1
