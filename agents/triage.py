"""The triage of a received email (the inbox playbook's rules, agents/triage_rules.py) and the offline model's reply
drafted in its thread (CONTRACT.md, "The built-in offline model"). The email's text is data: it is sorted by the
rules and quoted, never obeyed; what a reply may do (one `email.reply` to the sender, or to everyone on the thread
when the operator says so) is fixed here, whatever the email asks."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Sequence
from functools import cache
from pathlib import Path
from typing import Any

from agents import playbooks
from agents.headlines import SUBJECT_MAX, clip
from agents.triage_rules import TriageRule, sort
from orchestrator.errors import ConfigError
from orchestrator.model import Draft, ProposalDraft, Reply

log = logging.getLogger("deputy.inbox")

INBOX = "@inbox"
"""The name the inbox's tasks carry, in the place a signed hook's name goes (docs/inbox.md: don't give a hook in
DEPUTY_HOOKS this name)."""
REPLY, FYI, INVOICE, NEWSLETTER, SPAM = "needs reply", "FYI", "invoice", "newsletter", "spam"
KINDS = (REPLY, FYI, INVOICE, NEWSLETTER, SPAM)
REPLY_KIND = "email.reply"
FILE_KIND = "email.file"
RECORD_KIND = "record.create"
_RE = re.compile(r"^\s*(?:(?:re|aw|sv|antw|wg|fwd?)\s*(?:\[\d+\])?\s*:\s*)+", re.I)
QUOTE_LINES = 12


def triage(mail: dict[str, Any], rules: Sequence[TriageRule] | None = None) -> str:
    """One of KINDS, from the headers and text alone: the first of the inbox playbook's rules that fits (the
    built-in file's when none are given)."""
    return sort(built_in() if rules is None else rules, mail)


@cache
def built_in() -> tuple[TriageRule, ...]:
    return tuple(playbooks.read(playbooks.BUILT_IN / f"{playbooks.INBOX}.yaml").spec.triage or ())


_last: dict[Path, tuple[TriageRule, ...]] = {}


def rules(data_dir: Path, kinds: frozenset[str]) -> tuple[TriageRule, ...]:
    """The inbox playbook's rules as its files are now (the operator's own inbox.yaml where there is one; read again
    when a file changes). A file broken while Deputy runs keeps the rules it had: at start it is refused (exit 2)."""
    try:
        found = playbooks.cached(playbooks.directories(data_dir), kinds)
    except ConfigError as err:
        if data_dir not in _last:
            raise
        log.warning("inbox: still sorting by the last good rules: %s", err)
        return _last[data_dir]
    inbox = found.get(playbooks.INBOX)
    _last[data_dir] = tuple(inbox.spec.triage or ()) if inbox else built_in()
    return _last[data_dir]


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
