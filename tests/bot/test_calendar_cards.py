"""A calendar card on every channel: the booking in the operator's time zone, the overlap warning under the
headline, the calendar named by host and path (never its password), escaped, with the usual buttons."""

from __future__ import annotations

import json

from bot.slack.render import message
from bot.telegram.render import render
from connectors.caldav_store import CalDav
from connectors.calendar import CalendarConnector
from orchestrator.model import ChatRef, Proposal, StagedAction
from orchestrator.outbound import Kind, Outbound
from tests.bot.cards import AT

URL = "https://sam:s3cret@cal.example.com/dav/sam/jobs/"
FIELDS = {"op": "create", "with": "jane@acme.com", "title": "Call <Q1> & plans", "start": "2026-12-08T10:00"}
HEAD = "Book a call with jane@acme.com on Tue 8 Dec at 10:00"
WARNING = "⚠ Overlaps: Tue 8 Dec 09:45–10:45 “Weekly sync”"


def booking() -> Proposal:
    connector = CalendarConnector(CalDav(URL, "Europe/Warsaw"), "Europe/Warsaw")
    fields = connector.validate({**FIELDS, "minutes": "30", "event": "new", "was": "-"})
    preview = connector.preview(fields)
    action = StagedAction(
        kind="calendar.event", fields=fields, summary=preview.summary, target=preview.target, body=preview.body
    )
    summary = f"{HEAD}\n{WARNING}"
    return Proposal(
        id="p4c4l3nd",
        task_id="t4c4l3nd",
        chat=ChatRef("telegram", "42"),
        playbook="calendar",
        summary=summary,
        actions=[action],
        created_at=AT,
    )


def test_slack_shows_the_booking_the_warning_and_the_buttons() -> None:
    _, blocks = message(Outbound(kind=Kind.CARD, text="", proposal=booking()))
    shown = json.dumps(blocks, ensure_ascii=False)
    assert "Book “Call &lt;Q1&gt; &amp; plans” with jane@acme.com on Tue 8 Dec 10:00–10:30 (Europe/Warsaw)" in shown
    assert WARNING in shown and "cal.example.com/dav/sam/jobs/" in shown and "s3cret" not in shown
    assert {"deputy_approve", "deputy_reject", "deputy_revise"} <= {
        e.get("action_id") for b in blocks for e in b.get("elements", [])
    }


def test_telegram_shows_the_same_escaped() -> None:
    [piece] = render(Outbound(kind=Kind.CARD, text="", proposal=booking()))
    assert (
        "Book “Call &lt;Q1&gt; &amp; plans” with jane@acme.com on Tue 8 Dec 10:00–10:30 (Europe/Warsaw)" in piece.html
    )
    assert WARNING in piece.html and "s3cret" not in piece.html
    assert [b.data for row in piece.keyboard for b in row] == ["a:p4c4l3nd:1", "r:p4c4l3nd:1", "v:p4c4l3nd:1"]
