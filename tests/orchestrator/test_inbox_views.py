"""/inbox and the digest's Inbox section: the emails that need a reply, oldest first; the rest counted."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from orchestrator import events as ev
from orchestrator.digest import DigestFacts, compose
from orchestrator.inbox_views import inbox_text
from orchestrator.model import ChatRef, Proposal

T0 = datetime(2026, 12, 6, 9, 0, tzinfo=UTC)


def proposal(pid: str, summary: str, minutes: int, playbook: str = "inbox") -> Proposal:
    return Proposal(
        id=pid,
        task_id="t" + pid[1:],
        chat=ChatRef("console", "local"),
        playbook=playbook,
        summary=summary,
        actions=[],
        created_at=T0 + timedelta(minutes=minutes),
    )


def received(triage: str) -> ev.EmailReceived:
    return ev.EmailReceived(at=T0, task_id="t1", detail={"triage": triage})


def test_inbox_lists_replies_oldest_first_and_nothing_else() -> None:
    pending = [
        proposal("p2", "Reply to Bob: “Later”", 30),
        proposal("p1", "Reply to Jane: “Invoice 42”", 5),
        proposal("p3", "Email ann@x.example: Hello", 1, playbook="email"),
    ]
    text = inbox_text(pending)
    assert text.splitlines()[0] == "Emails that need a reply (2), oldest first:"
    assert [line.split(" · ")[0].strip() for line in text.splitlines()[1:3]] == ["p1", "p2"]
    assert "p3" not in text
    assert inbox_text([]) == "No email waits for a reply."


def test_the_digest_has_an_inbox_section_with_counts() -> None:
    events: list[ev.Event] = [received("needs reply"), received("FYI"), received("newsletter"), received("newsletter")]
    pending = [proposal("p1", "Reply to Jane: “Invoice 42”", 5), proposal("p9", "Save note", 1, playbook="note")]
    facts = DigestFacts(day=date(2026, 12, 6), events=events, pending=pending, spend_today=0, budget=5, week=[0] * 7)
    text = compose(facts)
    assert "Inbox: 1 needs a reply · 1 FYI · 2 newsletter" in text
    assert "  p1 · Reply to Jane: “Invoice 42”" in text
    assert "Waiting for you (1):" in text and "p9" in text


def test_a_day_with_only_newsletters_is_not_quiet() -> None:
    facts = DigestFacts(
        day=date(2026, 12, 6), events=[received("newsletter")], pending=[], spend_today=0, budget=5, week=[0] * 7
    )
    assert "Inbox: 0 need a reply · 1 newsletter" in compose(facts)
