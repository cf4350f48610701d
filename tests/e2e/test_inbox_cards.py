"""What the policies file cards at once, and the inbox card's own buttons, against a real IMAP server (pymap, its
own process) and real workers: a client's FYI is a card under a `from_client` rule (and not without one); Mark
read sets \\Seen once and Archive moves the email once, each an `email.file` action the press approved; a
stranger's card has Add as client, which makes one record however often it is pressed; a second press is refused
in words."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from bot.cards import view
from bot.wiring import Runtime
from orchestrator.buttons import ADD_CLIENT, ARCHIVE, MARK_READ, Button, Click, Target
from orchestrator.outbound import Kind, Outbound
from tests.conftest import Workers, eventually
from tests.e2e.helpers import CONSOLE, OPERATOR, converse, web_deputy
from tests.e2e.test_inbox import events
from tests.imap_server import ImapServer, email, new_folder

CLIENTS_RULE = """inbox:
  card_now:
    - name: clients
      from_client: true
    - name: needs-reply
      triage: [needs reply]
"""


@pytest.fixture
async def folder(imap_server: ImapServer) -> str:
    return await new_folder(imap_server, "Sent", "Archive")


@pytest.fixture
def policies(request: pytest.FixtureRequest) -> str:
    """DEPUTY_DATA_DIR/policies.yaml's text (a test's indirect parameter); '': the default file."""
    return str(getattr(request, "param", ""))


@pytest.fixture
async def inbox(
    env: dict[str, str], imap_server: ImapServer, folder: str, workers: Workers, policies: str
) -> AsyncIterator[Runtime]:
    """Deputy watching its own folder, with a worker, under `policies`."""
    if policies:
        data = Path(env["DEPUTY_DATA_DIR"])
        data.mkdir(parents=True, exist_ok=True)
        (data / "policies.yaml").write_text(policies)
    env = {**env, "DEPUTY_IMAP_URL": imap_server.url(folder)}
    workers.start(DEPUTY_IMAP_URL=env["DEPUTY_IMAP_URL"])
    async with web_deputy(env) as (runtime, _):
        yield runtime


async def cards(runtime: Runtime, n: int) -> list[Any]:
    """The inbox's pending cards, oldest first, once there are `n`."""
    found = [await runtime.store.get_proposal(p) for p in await runtime.store.ids("proposal", "pending")]
    mine = sorted((p for p in found if p and p.playbook == "inbox"), key=lambda p: p.created_at)
    return mine if len(mine) >= n else []


class Presses:
    """Button presses on the console's chat, as a channel makes them, with the presser's answers."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime, self.said, self.n = runtime, list[tuple[str, bool]](), itertools.count(1)

    async def press(self, button: Button, proposal_id: str) -> tuple[str, bool]:
        async def answer(text: str, refused: bool) -> None:
            self.said.append((text, refused))

        click = Click(OPERATOR, CONSOLE, button, Target(proposal_id), f"press-{next(self.n)}")
        await self.runtime.coordinator.click(click, answer)
        return self.said[-1]


def buttons(proposal: Any) -> list[str]:
    card = view(Outbound(kind=Kind.CARD, text=proposal.summary, proposal=proposal))
    assert card is not None
    return [b.name for b in card.buttons()]


async def filed(runtime: Runtime) -> list[Any]:
    return [e for e in await events(runtime, "ActionApplied") if e.detail.get("kind") == "email.file"]


@pytest.mark.parametrize("policies", [CLIENTS_RULE], indirect=True, ids=["clients-rule"])
async def test_a_clients_fyi_is_a_card_and_mark_read_and_archive_file_it_once(
    inbox: Runtime, imap_server: ImapServer, folder: str
) -> None:
    runtime = inbox
    assert "New client Acme Corp" in await converse(runtime, "/client Acme Corp email jane@acme.example")
    await imap_server.append_many(
        [
            email(message_id="<fyi@acme.example>", subject="Minutes", body="Minutes of today's call attached."),
            email(sender="Bob <bob@else.example>", message_id="<fyi@else.example>", subject="Hello", body="Hello."),
        ],
        folder,
    )
    received = await eventually(lambda: _at_least(events(runtime, "EmailReceived"), 2), 30, "both triaged")
    assert sorted((e.detail["from"], e.detail["card"]) for e in received) == [
        ("bob@else.example", ""),
        ("jane@acme.example", "clients"),
    ]
    card = (await eventually(lambda: cards(runtime, 1), 30, "the client's FYI as a card"))[0]
    assert card.actions == [] and "FYI from Jane Client" in card.summary and "Minutes of today's call" in card.summary
    assert buttons(card) == ["reject", "mark_read", "archive"]  # Dismiss; a client: no Add as client
    assert "Emails that need a reply" not in await converse(runtime, "/inbox")  # it needs none

    presses = Presses(runtime)
    said, refused = await presses.press(MARK_READ, card.id)
    assert not refused and "Mark read" in said
    await eventually(lambda: _flagged(imap_server, folder, b"fyi@acme.example", "\\Seen"), 30, "\\Seen set")
    said, refused = await presses.press(MARK_READ, card.id)
    assert refused and "already pressed" in said and "Nothing was done twice" in said

    said, refused = await presses.press(ARCHIVE, card.id)
    assert not refused
    await eventually(lambda: _has(imap_server, "Archive", b"fyi@acme.example"), 30, "the email in Archive")
    assert not await _has(imap_server, folder, b"fyi@acme.example")
    assert await _has(imap_server, folder, b"fyi@else.example")  # only the one pressed
    redrawn = await eventually(lambda: _told(runtime, card.id, 2), 30, "the card told of both")
    assert any(line.startswith("✓ Archived: moved from") for line in redrawn)
    said, refused = await presses.press(ARCHIVE, card.id)
    assert refused and "Archived" in said
    assert len(await filed(runtime)) == 2  # read once, archived once


async def test_a_strangers_card_adds_them_as_a_client_once(
    inbox: Runtime, imap_server: ImapServer, folder: str
) -> None:
    """Default policies: a stranger's question is a card with Add as client; a client's FYI is no card."""
    runtime = inbox
    await converse(runtime, "/client Acme Corp email jane@acme.example")
    await imap_server.append_many(
        [
            email(message_id="<fyi2@acme.example>", subject="Minutes", body="Minutes of today's call attached."),
            email(sender="Zoe Stranger <zoe@new.example>", message_id="<q@new.example>", subject="A quote?"),
        ],
        folder,
    )
    card = (await eventually(lambda: cards(runtime, 1), 30, "the stranger's card"))[0]
    assert [a.kind for a in card.actions] == ["email.reply"] and "zoe@new.example" in card.summary
    assert {"add_client", "mark_read", "archive", "approve"} <= set(buttons(card))
    received = await eventually(lambda: _at_least(events(runtime, "EmailReceived"), 2), 30, "both triaged")
    assert {e.detail["from"]: e.detail["card"] for e in received}["jane@acme.example"] == ""

    presses = Presses(runtime)
    said, refused = await presses.press(ADD_CLIENT, card.id)
    assert not refused, said
    await eventually(lambda: _told(runtime, card.id, 1), 30, "the card shows the client")
    listed = await converse(runtime, "/who zoe@new.example")
    assert "Zoe Stranger" in listed
    said, refused = await presses.press(ADD_CLIENT, card.id)
    assert refused and "Created client Zoe Stranger" in said and "Nothing was done twice" in said
    typed = await converse(runtime, f"/client add {card.id}")
    assert "already pressed" in typed
    assert (await converse(runtime, "/clients")).count("Zoe Stranger") == 1
    assert len([e for e in await events(runtime, "RecordCreated") if "Zoe" in e.summary]) == 1
    after = await runtime.store.get_proposal(card.id)
    assert after is not None and "add_client" not in buttons(after)
    await converse(runtime, f"/inbox read {card.id}")  # Mark read, typed
    await eventually(lambda: _flagged(imap_server, folder, b"q@new.example", "\\Seen"), 30, "\\Seen set, typed")
    assert not await _flagged(imap_server, folder, b"fyi2@acme.example", "\\Seen")


async def _at_least(found: Any, n: int) -> list[Any]:
    items = await found
    return items if len(items) >= n else []


async def _flagged(server: ImapServer, folder: str, message_id: bytes, flag: str) -> bool:
    return any(flag in flags for flags, head in await server.messages(folder) if message_id in head)


async def _has(server: ImapServer, folder: str, message_id: bytes) -> bool:
    return any(message_id in head for _, head in await server.messages(folder))


async def _told(runtime: Runtime, proposal_id: str, n: int) -> list[str]:
    """The card's lines of what became of its offers, once `n` settled."""
    proposal = await runtime.store.get_proposal(proposal_id)
    card = view(Outbound(kind=Kind.CARD, text="", proposal=proposal)) if proposal else None
    done = [line for line in (card.notes if card else ()) if line.startswith(("✓", "✗", "⚠"))]
    return done if len(done) >= n else []
