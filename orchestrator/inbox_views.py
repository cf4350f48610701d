"""The inbox's read side: `/inbox` and the digest's Inbox section. An email that needs a reply is a pending
proposal of the `inbox` playbook (agents/triage.py drafts it); what needed none is only counted, from the
`EmailReceived` events. Nothing here names an action kind."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from orchestrator import events as ev
from orchestrator.model import Proposal
from orchestrator.text import one_line

PLAYBOOK = "inbox"
NEEDS_REPLY = "needs reply"
COUNTED = ("FYI", "invoice", "newsletter", "spam")
LINE_CHARS = 110


def waiting(pending: Sequence[Proposal]) -> list[Proposal]:
    """The emails that wait for a reply, oldest first (not a card that only shows an email: offers, no action)."""
    replies = (p for p in pending if p.playbook == PLAYBOOK and (p.actions or not p.offers))
    return sorted(replies, key=lambda p: p.created_at)


def line(proposal: Proposal) -> str:
    since = f"{proposal.created_at:%a} {proposal.created_at.day} {proposal.created_at:%b %H:%M}"
    return one_line(f"{proposal.id} · {proposal.summary.splitlines()[0]} · since {since}", LINE_CHARS)


def inbox_text(pending: Sequence[Proposal]) -> str:
    found = waiting(pending)
    if not found:
        return "No email waits for a reply."
    rows = "\n".join(f"  {line(p)}" for p in found[:20])
    more = f"\n  …and {len(found) - 20} more" if len(found) > 20 else ""
    return f"Emails that need a reply ({len(found)}), oldest first:\n{rows}{more}\n/approve <id> sends a reply."


def digest_lines(events: Sequence[ev.Event], pending: Sequence[Proposal], most: int = 3) -> list[str]:
    """ "Inbox: 2 need a reply · 3 FYI · 5 newsletter", then the oldest that wait. Empty on a day without mail."""
    found = waiting(pending)
    counts = Counter(str(e.detail.get("triage", "")) for e in events if isinstance(e, ev.EmailReceived))
    if not found and not counts:
        return []
    parts = [f"{len(found)} need{'s' if len(found) == 1 else ''} a reply"]
    parts += [f"{counts[name]} {name}" for name in COUNTED if counts[name]]
    shown = [f"  {line(p)}" for p in found[:most]]
    more = [f"  …and {len(found) - most} more (/inbox)"] if len(found) > most else []
    return ["Inbox: " + " · ".join(parts), *shown, *more]
