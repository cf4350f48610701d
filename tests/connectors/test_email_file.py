"""`email.file` against a real IMAP server (pymap, one per module): Mark read sets \\Seen, Archive moves the email
(and, on a server without MOVE, copies, flags \\Deleted and expunges that UID alone); an email that is no longer
where it was read — another UIDVALIDITY, another Message-ID — is left alone and said so; nothing reaches the
hand-over when the server can't be reached."""

from __future__ import annotations

from typing import Any

import pytest

from connectors import imap
from connectors.email_file import FileConnector
from orchestrator.errors import BadRequest, PermanentConnectorError, TransientConnectorError
from tests.imap_server import ImapServer, email, new_folder


@pytest.fixture
def server(imap_server: ImapServer) -> ImapServer:
    return imap_server


@pytest.fixture
async def folder(server: ImapServer) -> str:
    return await new_folder(server, "Archive")


class Handed:
    def __init__(self) -> None:
        self.times = 0

    async def __call__(self) -> None:
        self.times += 1


async def where(server: ImapServer, folder: str, message_id: str) -> tuple[int, int]:
    """The folder's UIDVALIDITY and the UID of the email with `message_id` (the first one, if none has it)."""
    session = await imap.Session.open(imap.ImapTarget.parse(server.url(folder)))
    try:
        validity = await session.examine(folder)
        found = await session.uids("HEADER", "Message-ID", imap.quoted(message_id)) or await session.uids("ALL")
        return validity, found[0]
    finally:
        await session.close()


async def fields(server: ImapServer, folder: str, do: str, message_id: str, seen_as: str = "") -> dict[str, Any]:
    """The fields the card offered for the email `seen_as` (default: `message_id`) as it was read."""
    validity, uid = await where(server, folder, seen_as or message_id)
    raw = {"folder": folder, "uidvalidity": validity, "uid": uid, "message_id": message_id}
    return FileConnector(None, "Archive").validate({**raw, "do": do})


async def test_read_then_archive_each_once_and_a_rerun_changes_nothing(server: ImapServer, folder: str) -> None:
    await server.append_many([email(message_id="<a@x.example>"), email(message_id="<b@x.example>")], folder)
    connector, handed = FileConnector(server.url(folder), "Archive"), Handed()
    read = await fields(server, folder, "read", "<a@x.example>")
    assert await connector.apply(read, "p1:0", handed) == f"Marked read in {folder}"
    assert await connector.apply(read, "p1:0", handed) == f"Marked read in {folder}"  # idempotent by nature
    flags = [f for f, head in await server.messages(folder) if b"a@x.example" in head]
    assert len(flags) == 1 and "\\Seen" in flags[0]
    archive = await fields(server, folder, "archive", "<a@x.example>")
    assert await connector.apply(archive, "p2:0", handed) == f"Archived: moved from {folder} to Archive"
    assert await connector.apply(archive, "p2:0", handed) == "Already in Archive"  # a re-run after it happened
    assert [b"b@x.example" in h for _, h in await server.messages(folder)] == [True]
    assert sum(b"a@x.example" in h for _, h in await server.messages("Archive")) == 1
    assert handed.times == 3  # the re-run of the archive found it done before any command went out


async def test_an_email_no_longer_there_is_left_alone(server: ImapServer, folder: str) -> None:
    await server.append(email(message_id="<c@x.example>"), folder)
    connector, handed = FileConnector(server.url(folder), "Archive"), Handed()
    other = await fields(server, folder, "read", "<other@x.example>", seen_as="<c@x.example>")
    with pytest.raises(PermanentConnectorError, match=f"no longer in {folder}; nothing was done"):
        await connector.apply(other, "p3:0", handed)
    stale = {**await fields(server, folder, "read", "<c@x.example>"), "uidvalidity": "1"}
    with pytest.raises(PermanentConnectorError, match="no longer in"):
        await connector.apply(stale, "p4:0", handed)
    nowhere = FileConnector(server.url(folder), "Old mail")
    with pytest.raises(PermanentConnectorError, match="there is no folder Old mail"):
        await nowhere.apply(await fields(server, folder, "archive", "<c@x.example>"), "p5:0", handed)
    assert handed.times == 0 and "\\Seen" not in (await server.messages(folder))[0][0]


async def test_without_move_it_copies_and_expunges_that_uid_alone(
    server: ImapServer, folder: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    await server.append_many([email(message_id="<d@x.example>"), email(message_id="<e@x.example>")], folder)
    plain = imap.Session.has
    monkeypatch.setattr(imap.Session, "has", lambda self, name: name != "MOVE" and plain(self, name))
    connector = FileConnector(server.url(folder), "Archive")
    archive = await fields(server, folder, "archive", "<d@x.example>")
    assert await connector.apply(archive, "p6:0", Handed()) == f"Archived: moved from {folder} to Archive"
    left = await server.messages(folder)
    assert [b"e@x.example" in h for _, h in left] == [True] and "\\Deleted" not in left[0][0]
    assert any(b"d@x.example" in h for _, h in await server.messages("Archive"))


async def test_an_unreachable_server_files_nothing_and_is_tried_again(server: ImapServer) -> None:
    target = server.url("INBOX").replace(f":{server.port}/", ":9/")
    handed = Handed()
    with pytest.raises(TransientConnectorError, match="nothing was filed"):
        await FileConnector(target, "Archive").apply(
            {"folder": "INBOX", "uidvalidity": "1", "uid": "1", "message_id": "", "do": "read"}, "p7:0", handed
        )
    assert handed.times == 0
    with pytest.raises(BadRequest, match="read or archive"):
        FileConnector(target, "Archive").validate({"folder": "INBOX", "uidvalidity": "1", "uid": "1", "do": "delete"})
    assert FileConnector(None, "Archive").unavailable().startswith("DEPUTY_IMAP_URL is not set")
