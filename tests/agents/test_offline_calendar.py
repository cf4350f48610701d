"""The offline model's calendar grammar (docs/calendar.md): days, times and lengths read against the prompt's
`Now:`, the attendee from the request or a client record, the event to move or cancel from the calendar lines."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from agents.offline_calendar import agenda, booking
from agents.prompts import memory_block

NOW = datetime(2026, 12, 6, 18, 0, tzinfo=ZoneInfo("Europe/Warsaw"))  # a Sunday evening
CALENDAR = memory_block(
    [
        ("c3", "Jane Doe <jane@acme.com> — client; status active"),
        ("e1", "Event Tue 2026-12-08 10:00–10:45 “Call with Jane” with jane@acme.com (uid deputy-p1-0@deputy)"),
        ("e2", "Event Thu 2026-12-10 09:00–09:30 “Standup” (uid standup-1)"),
    ]
)


@pytest.mark.parametrize(
    ("text", "start", "minutes"),
    [
        ("book a call with jane@acme.com on Tuesday at 10", "2026-12-08T10:00", "30"),
        ("book a call with jane@acme.com tomorrow at 3pm for 1 hour", "2026-12-07T15:00", "60"),
        ("schedule a meeting with jane@acme.com on 9 Dec at 10:30 for 45 minutes", "2026-12-09T10:30", "45"),
        ("book a call with jane@acme.com on Sunday at 9", "2026-12-13T09:00", "30"),  # today's 9:00 has passed
        ("book a call with jane@acme.com at noon for half an hour", "2026-12-07T12:00", "30"),
        ("book a call with Jane on 2026-12-11 at 8am", "2026-12-11T08:00", "30"),  # the client record's address
    ],
)
def test_a_booking_reads_the_day_the_time_and_the_length(text: str, start: str, minutes: str) -> None:
    fields = booking(text, CALENDAR, NOW)["fields"]
    assert (fields["op"], fields["with"], fields["start"], fields["minutes"]) == (
        "create",
        "jane@acme.com",
        start,
        minutes,
    )
    assert fields["title"] in ("Call with Jane", "Meeting with Jane") and (fields["event"], fields["was"]) == (
        "new",
        "-",
    )


def test_what_is_missing_is_asked_for() -> None:
    assert "When?" in booking("book a call with jane@acme.com", CALENDAR, NOW)["question"]
    assert "address" in booking("book a call with Bob on Tuesday at 10", CALENDAR, NOW)["question"]
    assert "With whom?" in booking("book a call on Tuesday at 10", CALENDAR, NOW)["question"]


def test_a_move_finds_the_event_and_keeps_its_length() -> None:
    fields = booking("move my call with jane to 11", CALENDAR, NOW)["fields"]
    assert fields == {
        "op": "move",
        "with": "jane@acme.com",
        "title": "Call with Jane",
        "event": "deputy-p1-0@deputy",
        "start": "2026-12-08T11:00",
        "minutes": "45",
        "was": "2026-12-08T10:00",
    }
    later = booking("move the call with Jane on Tuesday to Thursday at 9:30", CALENDAR, NOW)["fields"]
    assert (later["start"], later["was"]) == ("2026-12-10T09:30", "2026-12-08T10:00")
    assert "can't find a call with bob" in booking("move my call with bob to 11", CALENDAR, NOW)["question"]


def test_a_cancellation_names_the_event_as_it_is() -> None:
    fields = booking("cancel the call with jane on Tuesday", CALENDAR, NOW)["fields"]
    assert (fields["op"], fields["event"], fields["start"], fields["minutes"]) == (
        "cancel",
        "deputy-p1-0@deputy",
        "2026-12-08T10:00",
        "45",
    )
    assert "question" in booking("cancel the call with jane on Wednesday", CALENDAR, NOW)


def test_whats_on_answers_from_the_calendar_lines_only() -> None:
    assert agenda("what's on Tuesday?", CALENDAR, NOW)["fields"]["answer"] == (
        "Tuesday, Tue 8 Dec:\n  • 10:00–10:45 Call with Jane (with jane@acme.com)"
    )
    assert agenda("what's on tomorrow?", CALENDAR, NOW)["fields"]["answer"] == (
        "Nothing on the calendar tomorrow (Mon 7 Dec)."
    )
    down = memory_block([("e0", "Calendar: could not be read (no answer in time)")])
    assert agenda("what's on today?", down, NOW)["fields"]["answer"] == (
        "I can't say what's on today: could not be read (no answer in time)."
    )
