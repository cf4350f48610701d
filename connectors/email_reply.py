"""`email.reply`: a reply in the thread of a received email (bot/sources/inbox.py). It goes out through the
email connector's SMTP path — the same hand-over mark, so it is sent once, or the operator hears "may not have
been sent" — with In-Reply-To and References set and one "Re:". Only then does it touch the mailbox: the reply
is appended to the Sent folder unless a message with its Message-ID is there already (a retry, or a server that
files sent mail itself), and the original is flagged \\Answered. Those two are filing, not sending: if the
mailbox can't be reached, the outcome says so and nothing is sent again.

Reply or reply all is a field of the action (`reply_all`), shown on the card and changed with `/edit`."""

from __future__ import annotations

import re
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Any

from redis.asyncio import Redis

from connectors import imap
from connectors.deadlines import deadline_s
from connectors.email import DEADLINE_S, EmailConnector, check_address, signed
from orchestrator.errors import BadRequest
from orchestrator.kinds import Check, Preview, Traits
from orchestrator.ports import HandOver, no_hand_over

TRAITS = Traits("email.reply", outward=True, minutes_saved=5.0, noun="reply", done="sent")
SENT_NAMES = ("Sent", "Sent Items", "Sent Messages", "[Gmail]/Sent Mail", "INBOX.Sent")
_MSGID = re.compile(r"^<[^<>\s]{1,250}>$")
YES = ("yes", "y", "true", "1", "all", "on")


@dataclass(frozen=True)
class Values:
    smtp_url: str | None = None
    email_from: str | None = None
    job_timeout_s: int = 600
    imap_url: str | None = None


def build(values: Values, redis: Redis) -> ReplyConnector:
    limit = deadline_s(values.job_timeout_s, DEADLINE_S)
    return ReplyConnector(values.smtp_url, values.email_from, values.imap_url, deadline_s=limit)


async def doctor(values: Values) -> list[Check]:
    """The inbox's own lines: login, folders, IDLE (the SMTP line is the email connector's)."""
    if not values.imap_url:
        return [Check("Inbox", True, "DEPUTY_IMAP_URL not set: no inbox (replies in a thread need one)", info=True)]
    return await imap.doctor(values.imap_url)


def _ids(value: Any, limit: int) -> str:
    """Message-IDs as a header carries them: `<…>` words only (anything else in a stored field is dropped)."""
    return " ".join(w for w in str(value or "").split() if _MSGID.match(w))[:limit]


class ReplyConnector(EmailConnector):
    kind, traits = TRAITS.kind, TRAITS

    def __init__(self, smtp_url: str | None, sender: str | None, imap_url: str | None, *, deadline_s: float) -> None:
        super().__init__(smtp_url, sender, deadline_s=deadline_s)
        self.imap = imap.ImapTarget.parse(imap_url) if imap_url else None

    def validate(self, fields: dict[str, Any]) -> dict[str, Any]:
        base = super().validate(fields)
        others = [check_address(a) for a in str(fields.get("others", "")).replace(";", ",").split(",") if a.strip()]
        reply_all = str(fields.get("reply_all", "no")).strip().lower()
        if reply_all not in (*YES, "no", "n", "false", "0", "off"):
            raise BadRequest("reply_all is yes (everyone on the thread) or no (the sender only).")
        return {
            **base,
            "others": ", ".join(a for a in others if a != base["to"]),
            "reply_all": "yes" if reply_all in YES else "no",
            "quote": str(fields.get("quote", ""))[:4000],
            "in_reply_to": _ids(fields.get("in_reply_to"), 300),
            "references": _ids(fields.get("references"), 2000),
            "folder": str(fields.get("folder", ""))[:200],
            "uidvalidity": str(fields.get("uidvalidity", ""))[:20],
            "uid": str(fields.get("uid", ""))[:20],
        }

    def preview(self, fields: dict[str, Any]) -> Preview:
        others = [a for a in fields["others"].split(", ") if a]
        everyone = fields["reply_all"] == "yes" and others
        to = ", ".join([fields["to"], *others]) if everyone else fields["to"]
        choice = (
            "reply all" if everyone else "reply" + (f" (reply_all no: not to {', '.join(others)})" if others else "")
        )
        summary = f"Reply “{fields['subject']}” to {to} in its thread · {choice}"
        return Preview(summary, target=to, subject=fields["subject"], body=_full_body(fields["body"], fields["quote"]))

    def message(self, fields: dict[str, Any], idempotency_key: str) -> EmailMessage:
        message = super().message(fields, idempotency_key)
        assert self.sender
        message.set_content(_full_body(signed(fields["body"], self.sender), fields["quote"]))
        others = [a for a in fields["others"].split(", ") if a]
        if fields["reply_all"] == "yes" and others:
            message["Cc"] = ", ".join(others)
        if fields["in_reply_to"]:
            message["In-Reply-To"] = fields["in_reply_to"]
        if fields["references"]:
            message["References"] = fields["references"]
        return message

    async def apply(self, fields: dict[str, Any], idempotency_key: str, handing_over: HandOver = no_hand_over) -> str:
        sent = await super().apply(fields, idempotency_key, handing_over)
        if self.imap is None:
            return sent
        try:
            filed = await self._file(self.imap, self.message(fields, idempotency_key), fields)
        except imap.ImapError as err:
            return f"{sent}; not filed in the mailbox ({err})"
        return f"{sent}; {filed}"

    async def _file(self, target: imap.ImapTarget, message: EmailMessage, fields: dict[str, Any]) -> str:
        session = await imap.Session.open(target)
        try:
            filed = await _append_once(session, message)
            answered = await _mark_answered(session, fields)
        finally:
            await session.close()
        return f"{filed}; {answered}"


def _full_body(body: str, quote: str) -> str:
    return f"{body.rstrip()}\n\n{quote}\n" if quote else body


async def _sent_folder(session: imap.Session) -> str | None:
    lines = await session.ok("LIST", session.client.list('""', "*"))
    special = [x for x in lines[:-1] if isinstance(x, bytes) and b"\\Sent" in x.split(b")")[0]]
    if special:
        return imap._folder_name(special[0])
    names = {n.lower(): n for n in await session.list_folders()}
    return next((names[n.lower()] for n in SENT_NAMES if n.lower() in names), None)


async def _append_once(session: imap.Session, message: EmailMessage) -> str:
    """Checked by Message-ID first: a retry, or a server that files what SMTP sent, leaves one copy."""
    folder = await _sent_folder(session)
    if folder is None:
        return "no Sent folder to file it in"
    await session.examine(folder)
    if await session.uids("HEADER", "Message-ID", imap.quoted(str(message["Message-ID"]))):
        return f"already in {folder}"
    await session.ok("APPEND", session.client.append(message.as_bytes(), mailbox=imap.quoted(folder), flags="(\\Seen)"))
    return f"filed in {folder}"


async def _mark_answered(session: imap.Session, fields: dict[str, Any]) -> str:
    """By UID while the folder's UIDVALIDITY is the one the email was read under; else found by Message-ID."""
    folder = fields["folder"]
    if not folder:
        return "no original to mark"
    lines = await session.ok(f"SELECT {folder}", session.client.select(imap.quoted(folder)))
    validity = next((m[1].decode() for x in lines if isinstance(x, bytes) and (m := imap._UIDVALIDITY.search(x))), "")
    uids = [int(fields["uid"])] if validity == fields["uidvalidity"] and fields["uid"].isdigit() else []
    if not uids and fields["in_reply_to"]:
        uids = await session.uids("HEADER", "Message-ID", imap.quoted(fields["in_reply_to"]))
    if not uids:
        return "the original is no longer in the mailbox"
    await session.ok("STORE", session.client.uid("store", ",".join(map(str, uids)), "+FLAGS", "(\\Answered)"))
    return "original marked answered"
