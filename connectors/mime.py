"""A received email as Deputy keeps it: who, what, the thread headers, the text (HTML-only mail made text,
legacy charsets decoded), its attachments listed by name, type and size but never read into a prompt, and
`flags` naming what was wrong with it. Parsing never raises: malformed MIME is kept and flagged."""

from __future__ import annotations

import html
import re
from dataclasses import asdict, dataclass, field
from email import message_from_bytes, policy
from email.header import decode_header, make_header
from email.message import EmailMessage, Message
from email.utils import getaddresses, parseaddr
from typing import Any

TEXT_MAX = 3000
"""The most of a message's text that is kept (and so ever reaches a prompt or a card)."""
FETCH_MAX = 256 * 1024
"""The most of a message that is read from the server: a larger one is read in part and flagged `truncated`."""
HEADER_MAX = 300
MAX_PARTS = 100
_TAGS = re.compile(r"<[^>]+>")
_HIDDEN = re.compile(r"<(script|style|head)\b.*?</\1\s*>", re.I | re.S)
_BREAKS = re.compile(r"<\s*(br|/p|/div|/tr|/li|/h\d)\b[^>]*>", re.I)
_BLANKS = re.compile(r"\n\s*\n\s*\n+")
_SPACES = re.compile(r"[ \t\r\f\v]+")
_RAW_ID = re.compile(rb"(?im)^message-id:\s*(<[^<>\s]{1,250}>)")


@dataclass
class Mail:
    message_id: str = ""
    sender: str = ""
    """The address only, lower case."""
    sender_name: str = ""
    reply_to: str = ""
    to: list[str] = field(default_factory=list)
    cc: list[str] = field(default_factory=list)
    subject: str = ""
    date: str = ""
    in_reply_to: str = ""
    references: str = ""
    text: str = ""
    attachments: list[dict[str, Any]] = field(default_factory=list)
    bulk: str = ""
    """List-Id / List-Unsubscribe / Precedence / Auto-Submitted, when present: mail sent to many."""
    flags: list[str] = field(default_factory=list)
    """What was wrong: `malformed-headers`, `bad-charset`, `no-text`, `truncated`, `unparseable`."""

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def parse(raw: bytes, *, size: int = 0) -> Mail:
    """`size`: the message's whole size on the server, when only its start was read."""
    try:
        mail = _parse(message_from_bytes(raw, policy=policy.compat32))  # the strict parser is 10x slower on junk
    except Exception:  # any input: a crash here would stall the inbox on one message
        found = _RAW_ID.search(raw[:8192])
        message_id = found[1].decode("ascii", "replace") if found else ""
        mail = Mail(message_id=message_id, text=raw[:TEXT_MAX].decode("utf-8", "replace"), flags=["unparseable"])
    if size > len(raw):
        mail.flags.append("truncated")
    return mail


def _parse(message: Message) -> Mail:
    mail = Mail(flags=[])
    _headers(message, mail)
    text, attachments = _walk(message, mail)
    mail.text = _clip(text)
    mail.attachments = attachments
    if not mail.text.strip() and not attachments:
        mail.flags.append("no-text")
    if message.defects:
        mail.flags.append("malformed-mime")
    return mail


def _header(message: Message, name: str, mail: Mail) -> str:
    """The header decoded (RFC 2047 encoded words, any charset); a broken one as written, and flagged."""
    value = message.get(name)
    if value is None:
        return ""
    try:
        text = str(make_header(decode_header(str(value))))
    except Exception:
        if "malformed-headers" not in mail.flags:
            mail.flags.append("malformed-headers")
        text = str(value)
    return " ".join(text.split())[:HEADER_MAX]


def _headers(message: Message, mail: Mail) -> None:
    name, address = parseaddr(_header(message, "From", mail))
    mail.sender, mail.sender_name = address.lower(), name
    mail.reply_to = parseaddr(_header(message, "Reply-To", mail))[1].lower()
    mail.to = _addresses(_header(message, "To", mail))
    mail.cc = _addresses(_header(message, "Cc", mail))
    mail.subject = _header(message, "Subject", mail)
    mail.date = _header(message, "Date", mail)
    mail.message_id = _header(message, "Message-ID", mail)
    mail.in_reply_to = _header(message, "In-Reply-To", mail)
    mail.references = " ".join(_header(message, "References", mail).split()[-20:])
    bulk = [n for n in ("List-Id", "List-Unsubscribe", "Precedence", "Auto-Submitted") if message.get(n) is not None]
    mail.bulk = ",".join(bulk)
    if not mail.sender or "@" not in mail.sender:
        mail.flags.append("no-sender")


def _addresses(value: str) -> list[str]:
    return [a.lower() for _, a in getaddresses([value]) if "@" in a][:50]


def _walk(message: Message, mail: Mail) -> tuple[str, list[dict[str, Any]]]:
    plain: list[str] = []
    markup: list[str] = []
    attachments: list[dict[str, Any]] = []
    for n, part in enumerate(message.walk()):
        if n > MAX_PARTS:
            mail.flags.append("too-many-parts")
            break
        if part.is_multipart():
            continue
        kind = part.get_content_type()
        disposition = str(part.get("Content-Disposition", "")).split(";")[0].strip().lower()
        filename = _filename(part, mail)
        if disposition == "attachment" or filename or not kind.startswith("text/"):
            attachments.append({"name": filename or "(unnamed)", "type": kind, "size": _size(part)})
        elif kind == "text/html":
            markup.append(_decoded(part, mail))
        else:
            plain.append(_decoded(part, mail))
    text = "\n\n".join(p for p in plain if p.strip()) or "\n\n".join(_html_text(h) for h in markup)
    return text, attachments[:50]


def _filename(part: Message, mail: Mail) -> str:
    try:
        return (part.get_filename() or "")[:200]
    except Exception:
        mail.flags.append("malformed-headers")
        return ""


def _size(part: Message) -> int:
    payload = part.get_payload(decode=True)
    return len(payload) if isinstance(payload, bytes) else 0


def _decoded(part: Message, mail: Mail) -> str:
    """The part's text in its declared charset; an unknown or lying charset is read as UTF-8 with
    replacements (then Latin-1 would be a guess) and flagged."""
    payload = part.get_payload(decode=True)
    if not isinstance(payload, bytes):
        return str(part.get_payload())[: TEXT_MAX * 2]
    charset = part.get_content_charset() or "us-ascii"
    try:
        return payload[: TEXT_MAX * 4].decode(_charset(charset))
    except (LookupError, ValueError):  # an unknown codec, bytes it cannot read, a NUL in the name
        mail.flags.append("bad-charset")
        return payload[: TEXT_MAX * 4].decode("utf-8", "replace")


def _charset(name: str) -> str:
    """Names mail clients write that Python's codecs don't know by that name."""
    aliases = {"x-sjis": "shift_jis", "unknown-8bit": "latin-1", "x-unknown": "latin-1", "ks_c_5601-1987": "cp949"}
    return aliases.get(name.lower(), name)


def _html_text(markup: str) -> str:
    text = _BREAKS.sub("\n", _HIDDEN.sub("", markup))
    return html.unescape(_TAGS.sub("", text))


def _clip(text: str) -> str:
    lines = "\n".join(_SPACES.sub(" ", line).strip() for line in text.replace("\r\n", "\n").split("\n"))
    lines = _BLANKS.sub("\n\n", lines).strip()
    return lines if len(lines) <= TEXT_MAX else lines[: TEXT_MAX - 1] + "…"


def as_message(raw: bytes) -> EmailMessage:
    """For tests and the Sent check: the message as Python's email package reads it."""
    found = message_from_bytes(raw, policy=policy.default)
    assert isinstance(found, EmailMessage)
    return found
