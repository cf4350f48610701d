"""The records a request names, by fixed keys only: an address, a domain, an exact name, a first name only one
record has — and a long request costs a bounded number of lookups."""

from __future__ import annotations

from datetime import UTC, datetime

from agents.known import KEYS, keys_in, named
from orchestrator.fakes.records import InMemoryRecordBook
from orchestrator.records import Entity, Source

SRC = Source("you", "e1", datetime(2026, 12, 6, tzinfo=UTC))


async def book_of(*people: tuple[str, str]) -> InMemoryRecordBook:
    book = InMemoryRecordBook()
    for n, (name, email) in enumerate(people, 1):
        entity = Entity(f"c{n}", "client")
        entity.put("name", name, SRC)
        entity.put("emails", [email], SRC)
        entity.put("terms", "net 30", SRC)
        await book.save([entity], [])
    return book


async def test_a_first_name_finds_the_one_record_that_has_it() -> None:
    book = await book_of(("Piotr Kowalski", "piotr@northwind.example"), ("Anna Nowak", "anna@x.example"))
    found = await named(book, "email Piotr about the kickoff")
    assert found[0].record.text.startswith("Piotr Kowalski <piotr@northwind.example> — client; terms net 30")
    assert found[1].record.text == "Piotr Kowalski (northwind.example) pays on terms net 30"
    assert await named(book, "email piotr about it") != []  # any case


async def test_a_shared_first_name_finds_nobody() -> None:
    book = await book_of(("Piotr Kowalski", "piotr@a.example"), ("Piotr Nowak", "pn@b.example"))
    assert await named(book, "email Piotr about the kickoff") == []
    assert [r.record.id for r in await named(book, "email Piotr Nowak about it")] == ["c2", "c2"]


def test_a_long_request_is_a_bounded_number_of_lookups() -> None:
    assert len(keys_in("email " + " ".join(f"Word{i} Name{i}" for i in range(500)))) == KEYS
