"""The offline model's triage of a received email and its drafted reply in the thread (CONTRACT.md, "The
built-in offline model"). The email's text is data: it is sorted by fixed rules and quoted, never obeyed; what a
reply may do (one `email.reply` to the sender, or to everyone on the thread when the operator says so) is fixed
here, whatever the email asks."""

from __future__ import annotations

import json
import re
from typing import Any

from agents.headlines import SUBJECT_MAX, clip
from orchestrator.model import Draft, ProposalDraft, Reply

INBOX = "@inbox"
"""The name the inbox's tasks carry, in the place a signed hook's name goes (docs/inbox.md: don't give a hook in
DEPUTY_HOOKS this name)."""
REPLY, FYI, INVOICE, NEWSLETTER, SPAM = "needs reply", "FYI", "invoice", "newsletter", "spam"
KINDS = (REPLY, FYI, INVOICE, NEWSLETTER, SPAM)
REPLY_KIND = "email.reply"
FILE_KIND = "email.file"
RECORD_KIND = "record.create"
_SPAM = re.compile(
    r"\b(?:viagra|casino|lottery|you(?:'ve| have) won|crypto\s+giveaway|wire\s+transfer\s+fee|claim\s+your\s+prize"
    r"|act\s+now|100% free|weight\s+loss)\b",
    re.I,
)
_INVOICE = re.compile(
    r"\b(?:invoice|receipt|payment\s+(?:received|confirmation|due)|amount\s+due|order\s+#?\d+)\b", re.I
)
_NEWSLETTER = re.compile(
    r"\b(?:unsubscribe|newsletter|view\s+(?:it\s+)?in\s+(?:your\s+)?browser|weekly\s+digest)\b", re.I
)
_NOREPLY = re.compile(r"^(?:no-?reply|do-?not-?reply|mailer-daemon|notifications?|news|newsletter)@", re.I)
_ASKS = re.compile(
    r"\?|\b(?:could|can|would|will)\s+you\b|\bplease\s+(?:confirm|advise|reply|send|call)\b|\blet\s+me\s+know\b|\bget\s+back\b|\bare\s+you\s+available\b",
    re.I,
)
_RE = re.compile(r"^\s*(?:(?:re|aw|sv|antw|wg|fwd?)\s*(?:\[\d+\])?\s*:\s*)+", re.I)
QUOTE_LINES = 12


def triage(mail: dict[str, Any]) -> str:
    """One of KINDS, from the headers and text alone (first rule that fits)."""
    text = f"{mail.get('subject', '')}\n{mail.get('text', '')}"
    sender = str(mail.get("sender", ""))
    if not sender or _SPAM.search(text):
        return SPAM
    if mail.get("bulk") or _NOREPLY.match(sender) or _NEWSLETTER.search(text):
        return NEWSLETTER
    if _ASKS.search(text):  # a client asking about an invoice wants an answer, not filing
        return REPLY
    return INVOICE if _INVOICE.search(text) else FYI


def reply_subject(subject: str) -> str:
    """One "Re:", however many the thread has piled up (Gmail groups a thread by subject too)."""
    bare = _RE.sub("", subject).strip()
    return clip(f"Re: {bare}" if bare else "Re: your email", SUBJECT_MAX)


def quote(mail: dict[str, Any]) -> str:
    who = f"{mail.get('sender_name')} <{mail.get('sender')}>" if mail.get("sender_name") else str(mail.get("sender"))
    lines = str(mail.get("text", "")).splitlines()[:QUOTE_LINES]
    when = f"On {mail['date']}, " if mail.get("date") else ""
    return f"{when}{who} wrote:\n" + "\n".join(f"> {line}" for line in lines)


def reply_fields(item: dict[str, Any]) -> dict[str, Any]:
    """The `email.reply` action's fields for a stored email (`item`: the inbox source's record of it)."""
    mail = item["mail"]
    first = (str(mail.get("sender_name") or "").split() or [str(mail.get("sender", "")).split("@")[0]])[0]
    first = re.sub(r"[^\w'-]", "", first)[:40].capitalize() or "there"
    subject = str(mail.get("subject") or "")
    topic = f"about “{clip(_RE.sub('', subject).strip(), 80)}”" if subject.strip() else ""
    body = (
        f"Hi {first},\n\nThanks for your email{' ' + topic if topic else ''}. I'll look into it and get back to you "
        "shortly.\n\nBest regards,\n"
    )
    references = " ".join([*str(mail.get("references") or "").split(), mail.get("message_id") or ""]).strip()
    return {
        "to": mail.get("reply_to") or mail.get("sender"),
        "others": ", ".join(item.get("others", [])),
        "reply_all": "no",
        "subject": reply_subject(subject),
        "body": body,
        "quote": quote(mail),
        "in_reply_to": mail.get("message_id") or "",
        "references": references,
        "folder": item["folder"],
        "uidvalidity": str(item["uidvalidity"]),
        "uid": str(item["uid"]),
    }


def inbound_email(body: str) -> Draft:
    """The inbox source's task (an email the policies file cards at once): a drafted reply in the thread when it
    needs one, else a card that shows it; either way with Mark read and Archive, and Add as client for a
    stranger."""
    try:
        item = json.loads(body)
        mail = item["mail"]
    except (ValueError, KeyError, TypeError):
        return Reply("An email came in that Deputy could not read; it is listed in the digest.", ok=False)
    sender = mail.get("sender_name") or mail.get("sender")
    client = item.get("client") or ""
    known = f" · client {client}" if client else f" · not a client yet: /client <name> email {mail.get('sender')}"
    subject = clip(str(mail.get("subject") or "(no subject)"), 80)
    attached, kind = _attachments(mail), item.get("triage", REPLY)
    if kind != REPLY:
        said = f"{kind} from {sender}: “{subject}”{known}{attached}"
        return ProposalDraft(playbook="inbox", summary=f"{said}\n{_short_quote(mail)}", actions=[], offers=offers(item))
    return ProposalDraft(
        playbook="inbox",
        summary=f"Reply to {sender}: “{subject}” ({kind}){known}{attached}",
        risk="medium",
        always_ask=True,
        actions=[(REPLY_KIND, reply_fields(item))],
        offers=offers(item),
    )


def offers(item: dict[str, Any]) -> dict[str, tuple[str, dict[str, Any]]]:
    """The card's buttons beside its decision, by their names (orchestrator/buttons.py): file the email where it
    is (read, archive), and for a stranger, make them a client — their display name, else their domain."""
    mail = item["mail"]
    where = {"folder": item["folder"], "uidvalidity": str(item["uidvalidity"]), "uid": str(item["uid"])}
    where["message_id"] = str(mail.get("message_id") or "")
    found = {"mark_read": (FILE_KIND, {**where, "do": "read"}), "archive": (FILE_KIND, {**where, "do": "archive"})}
    sender = str(mail.get("sender") or "")
    if not item.get("client") and "@" in sender:
        name = " ".join(str(mail.get("sender_name") or "").split())[:80] or sender.rpartition("@")[2]
        found["add_client"] = (RECORD_KIND, {"type": "client", "name": name, "emails": sender})
    return found


def _short_quote(mail: dict[str, Any]) -> str:
    """The email's first words, on one line: what a card that shows it quotes."""
    words = " ".join(str(mail.get("text", "")).split())
    return f"“{clip(words, 160)}”" if words else "(no text)"


def _attachments(mail: dict[str, Any]) -> str:
    files = mail.get("attachments") or []
    if not files:
        return ""
    shown = ", ".join(f"{a['name']} ({a['type']}, {_kb(a['size'])})" for a in files[:5])
    return f" · attached: {shown}" + (f" and {len(files) - 5} more" if len(files) > 5 else "")


def _kb(size: int) -> str:
    return f"{size} B" if size < 1024 else f"{size / 1024:.0f} KB"
