"""The calendar from chat, end to end: a real worker process, real Redis and a real CalDAV server (Radicale).
"book a call with jane@acme.com on <day> at 10" → a card in the operator's time zone (with the events it would
overlap) → approve → exactly one event; moves and cancellations; "what's on tomorrow?"; a calendar that is down
when the booking is applied."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from bot.wiring import Runtime
from connectors.caldav_store import event_ics
from memory import keys
from orchestrator.agenda import day_bounds
from tests.conftest import Workers, eventually
from tests.e2e.helpers import converse, proposal_id, send
from tests.radicale import Calendar, Radicale

ZONE = "Europe/Warsaw"
TZ = ZoneInfo(ZONE)


@pytest.fixture
def env(env: dict[str, str], calendar: Calendar) -> dict[str, str]:
    return {**env, "DEPUTY_CALDAV_URL": calendar.url, "DEPUTY_TIMEZONE": ZONE, "DEPUTY_JOB_RETRY_S": ""}


def next_weekday(days_ahead: int = 2) -> date:
    """A day two or more days ahead, named by its weekday: never today, so "on <weekday>" is that day."""
    return datetime.now(TZ).date() + timedelta(days=days_ahead)


async def on(calendar: Calendar, day: date) -> list[tuple[str, datetime, datetime]]:
    return [(e.title, e.start, e.end) for e in await calendar.events(*day_bounds(day, ZONE))]


async def test_book_a_call_card_approve_one_event(runtime: Runtime, workers: Workers, calendar: Calendar) -> None:
    workers.start()
    day = next_weekday()
    other = datetime.combine(day, time(9, 45), TZ)
    ics = event_ics(uid="weekly", title="Weekly sync", start=other, end=other + timedelta(hours=1), attendees=[])
    await calendar.dav.create("weekly", ics, _nothing)

    card = await converse(runtime, f"book a call with jane@acme.com on {day:%A} at 10")
    pid = proposal_id(card)
    when = f"{day:%a} {day.day} {day:%b}"
    assert f"Book “Call with Jane” with jane@acme.com on {when} 10:00–10:30 (Europe/Warsaw)" in card
    assert f"⚠ Overlaps: {when} 09:45–10:45 “Weekly sync”" in card
    assert len(await on(calendar, day)) == 1  # nothing booked before approval

    done = await converse(runtime, f"/approve {pid}")
    assert f"Done: Booked “Call with Jane” with jane@acme.com on {when} 10:00–10:30 (Europe/Warsaw)" in done
    start = datetime.combine(day, time(10), TZ)
    assert ("Call with Jane", start, start + timedelta(minutes=30)) in await on(calendar, day)
    assert len(await on(calendar, day)) == 2
    assert "p%40ss" not in card + done and "p@ss" not in card + done

    again = await converse(runtime, f"/approve {pid}")
    assert "already approved" in again and len(await on(calendar, day)) == 2


async def test_move_cancel_and_whats_on(runtime: Runtime, workers: Workers, calendar: Calendar) -> None:
    workers.start()
    tomorrow = datetime.now(TZ).date() + timedelta(days=1)
    pid = proposal_id(await converse(runtime, "book a call with jane@acme.com tomorrow at 10 for 45 minutes"))
    await converse(runtime, f"/approve {pid}")

    answer = await converse(runtime, "what's on tomorrow?")
    assert f"Tomorrow, {tomorrow:%a} {tomorrow.day} {tomorrow:%b}:" in answer
    assert "• 10:00–10:45 Call with Jane (with jane@acme.com)" in answer and "📎" not in answer
    assert "Nothing on the calendar today" in await converse(runtime, "what's on today?")

    card = await converse(runtime, "move my call with jane to 11")
    assert "Move “Call with Jane” with jane@acme.com from" in card and "to " in card and "11:00–11:45" in card
    await converse(runtime, f"/approve {proposal_id(card)}")
    start = datetime.combine(tomorrow, time(11), TZ)
    assert await on(calendar, tomorrow) == [("Call with Jane", start, start + timedelta(minutes=45))]

    card = await converse(runtime, "cancel the call with jane tomorrow")
    assert "Cancel “Call with Jane” with jane@acme.com on" in card
    done = await converse(runtime, f"/approve {proposal_id(card)}")
    assert "Done: Cancelled “Call with Jane”" in done
    assert await on(calendar, tomorrow) == []


async def test_calendar_down_during_apply_is_said_and_a_retry_books_once(
    runtime: Runtime, workers: Workers, calendar: Calendar, radicale: Radicale
) -> None:
    workers.start()
    day = next_weekday(3)
    pid = proposal_id(await converse(runtime, f"book a call with jane@acme.com on {day:%A} at 15:30"))
    radicale.stop()
    try:
        await send(runtime, f"/approve {pid}", "approve-while-down")
        await eventually(lambda: failures(runtime), 60, "the booking to fail for good, in words")
    finally:
        radicale.start()
    [failed] = await failures(runtime)
    assert "can't connect" in failed and "nothing changed" in failed and failed.endswith(f"/retry {pid} to try again.")
    assert await on(calendar, day) == []
    done = await converse(runtime, f"/retry {pid}")
    assert "Done: Booked “Call with Jane”" in done
    assert len(await on(calendar, day)) == 1


async def shown(runtime: Runtime) -> list[str]:
    """What the console showed the operator, in order."""
    entries: Any = await runtime.redis.xrange(keys.console("local"))
    return [str(f["text"]) for _, f in entries if "text" in f]


async def failures(runtime: Runtime) -> list[str]:
    return [t for t in await shown(runtime) if "failed:" in t]


async def _nothing() -> None:
    return None


async def test_the_digest_lists_todays_events(runtime: Runtime, workers: Workers, calendar: Calendar) -> None:
    workers.start()
    today = datetime.now(TZ).date()
    for n, (hour, title) in enumerate([(16, "Review with Ann"), (8, "Standup")]):
        start = datetime.combine(today, time(hour, 30), TZ)
        ics = event_ics(uid=f"d{n}", title=title, start=start, end=start + timedelta(minutes=30), attendees=[])
        await calendar.dav.create(f"d{n}", ics, _nothing)
    digest = await converse(runtime, "/digest")
    assert "On the calendar today (2):\n  08:30–09:00 Standup\n  16:30–17:00 Review with Ann" in digest
    asked = await converse(runtime, "what's on today?")
    assert "• 08:30–09:00 Standup" in asked and "• 16:30–17:00 Review with Ann" in asked


async def test_a_client_named_by_name_is_invited_by_the_address_on_record(
    runtime: Runtime, workers: Workers, calendar: Calendar
) -> None:
    workers.start()
    onboarded = proposal_id(await converse(runtime, "onboard Piotr Kowalski piotr@northwind.example"))
    await converse(runtime, f"/approve {onboarded}")
    card = await converse(runtime, "book a call with Piotr tomorrow at 9")
    assert "Book “Call with Piotr” with piotr@northwind.example on" in card
    await converse(runtime, f"/approve {proposal_id(card)}")
    tomorrow = datetime.now(TZ).date() + timedelta(days=1)
    [event] = await calendar.events(*day_bounds(tomorrow, ZONE))
    assert event.attendees == ("piotr@northwind.example",) and event.start == datetime.combine(tomorrow, time(9), TZ)
