"""`email.file`: mark a received email read, or archive it — the inbox card's **Mark read** and **Archive**
(bot/sources/inbox.py reads the mailbox and never changes it; this is the only way Deputy files mail, and only on
a press). The folder is opened with SELECT (EXAMINE can't change flags) and the email found by its UID while the
folder's UIDVALIDITY and the email's Message-ID are still the ones it was read under: else it is no longer there
and nothing is done. Read is `UID STORE +FLAGS (\\Seen)`; archive is `UID MOVE` to DEPUTY_IMAP_ARCHIVE (COPY,
`\\Deleted` and `UID EXPUNGE` of that UID alone where the server lacks MOVE).

Both are idempotent by nature, so a failure before the command goes out is tried again; a connection lost after
it went out may or may not have filed the email, and only then is it "may not have happened". An archive run
again after it happened finds the email in the archive folder by its Message-ID and says so."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from redis.asyncio import Redis

from connectors import imap
from orchestrator.errors import BadRequest, ConnectorError, PermanentConnectorError, TransientConnectorError
from orchestrator.kinds import Preview, Traits
from orchestrator.ports import HandOver, no_hand_over

TRAITS = Traits("email.file", undoable=False, noun="email", done="filed")
"""No minutes saved: a press files it as fast as a mail client would."""
DO = ("read", "archive")
_MSGID = re.compile(r"^<[^<>\s]{1,250}>$")
_HEADER_ID = re.compile(rb"^message-id:\s*(<[^<>\s]+>)", re.I | re.M)


@dataclass(frozen=True)
class Values:
    imap_url: str | None = None
    imap_archive: str = "Archive"


def build(values: Values, redis: Redis) -> FileConnector:
    return FileConnector(values.imap_url, values.imap_archive)


class FileConnector:
    kind, traits = TRAITS.kind, TRAITS
    resend_safe = False
    """The filing is idempotent, but a lost connection after the command leaves only the mailbox knowing: said."""

    def __init__(self, imap_url: str | None, archive: str) -> None:
        self.target = imap.ImapTarget.parse(imap_url) if imap_url else None
        self.archive = archive

    def unavailable(self) -> str:
        return "" if self.target else "DEPUTY_IMAP_URL is not set: there is no mailbox to file the email in"

    def validate(self, fields: dict[str, Any]) -> dict[str, Any]:
        """`folder`, `uidvalidity`, `uid` (where the email was read), its `message_id`, and `do`: read or archive."""
        do = str(fields.get("do", "")).strip().lower()
        if do not in DO:
            raise BadRequest("An email is filed by `do`: read or archive.")
        folder = " ".join(str(fields.get("folder", "")).split())[:200]
        validity, uid = str(fields.get("uidvalidity", "")).strip(), str(fields.get("uid", "")).strip()
        if not folder or not validity.isdigit() or not uid.isdigit():
            raise BadRequest("An email to file needs the folder, UIDVALIDITY and UID it was read under.")
        message_id = str(fields.get("message_id", "")).strip()
        if message_id and not _MSGID.match(message_id):
            raise BadRequest(f"{message_id[:80]!r} is not a Message-ID.")
        return {"folder": folder, "uidvalidity": validity, "uid": uid, "message_id": message_id, "do": do}

    def preview(self, fields: dict[str, Any]) -> Preview:
        folder = fields["folder"]
        said = f"mark the email read in {folder}" if fields["do"] == "read" else f"move the email to {self.archive}"
        return Preview(f"{said[0].upper()}{said[1:]}", target=folder)

    async def apply(self, fields: dict[str, Any], idempotency_key: str, handing_over: HandOver = no_hand_over) -> str:
        assert self.target is not None
        try:
            session = await imap.Session.open(self.target)
        except imap.ImapError as err:
            raise TransientConnectorError(f"{err}; nothing was filed") from err
        try:
            return await self._file(session, fields, handing_over)
        finally:
            await session.close()

    async def _file(self, session: imap.Session, fields: dict[str, Any], handing_over: HandOver) -> str:
        """Found (and the archive folder there) before the hand-over: a failure up to it filed nothing."""
        try:
            uid = await _find(session, fields)
            if uid is None:
                return await self._gone(session, fields)
            if fields["do"] == "archive" and self.archive not in await session.list_folders():
                raise PermanentConnectorError(
                    f"there is no folder {self.archive}: create it, or set DEPUTY_IMAP_ARCHIVE to the folder you "
                    "archive to; nothing was filed"
                )
        except imap.ImapError as err:
            raise TransientConnectorError(f"{err}; nothing was filed") from err
        await handing_over()
        try:
            return await (_read(session, uid, fields) if fields["do"] == "read" else self._move(session, uid, fields))
        except imap.ImapError as err:
            raise ConnectorError(f"{err}; the mailbox may or may not have filed it") from err

    async def _gone(self, session: imap.Session, fields: dict[str, Any]) -> str:
        """Not where it was read: archived already (a run after one that did it), or gone — nothing to do."""
        mid = fields["message_id"]
        if fields["do"] == "archive" and mid and self.archive in await session.list_folders():
            await session.examine(self.archive)
            if await session.uids("HEADER", "Message-ID", imap.quoted(mid)):
                return f"Already in {self.archive}"
        raise PermanentConnectorError(f"the email is no longer in {fields['folder']}; nothing was done")

    async def _move(self, session: imap.Session, uid: str, fields: dict[str, Any]) -> str:
        where = imap.quoted(self.archive)
        if session.has("MOVE"):
            await session.ok("UID MOVE", session.client.uid("move", uid, where))
        else:
            await session.ok("UID COPY", session.client.uid("copy", uid, where))
            await session.ok("UID STORE", session.client.uid("store", uid, "+FLAGS", "(\\Deleted)"))
            await session.ok("UID EXPUNGE", session.client.uid("expunge", uid))
        return f"Archived: moved from {fields['folder']} to {self.archive}"


async def _find(session: imap.Session, fields: dict[str, Any]) -> str | None:
    """The email's UID, while the folder's UIDVALIDITY and its Message-ID are what they were; else None."""
    folder = fields["folder"]
    lines = await session.ok(f"SELECT {folder}", session.client.select(imap.quoted(folder)))
    found = next((m for x in lines if isinstance(x, bytes) and (m := imap._UIDVALIDITY.search(x))), None)
    if found is None or found[1].decode() != fields["uidvalidity"]:
        return None
    parts = "(UID BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)])"
    got = await session.ok("UID FETCH", session.client.uid("fetch", fields["uid"], parts))
    header = next((bytes(x) for x in got if isinstance(x, bytearray)), None)
    if header is None:
        return None
    said = _HEADER_ID.search(header)
    if fields["message_id"] and (said is None or said[1].decode(errors="replace") != fields["message_id"]):
        return None
    return str(fields["uid"])


async def _read(session: imap.Session, uid: str, fields: dict[str, Any]) -> str:
    await session.ok("UID STORE", session.client.uid("store", uid, "+FLAGS", "(\\Seen)"))
    return f"Marked read in {fields['folder']}"
