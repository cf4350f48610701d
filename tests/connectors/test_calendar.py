"""`calendar.event` against a real CalDAV server (Radicale on loopback): a booking is created once however often
it is applied, moves and cancellations check the event first, the card's words, and what a refused login, a
missing collection or a stopped server make of it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from connectors.caldav_store import CalDav
from connectors.calendar import CalendarConnector, Values, build, doctor, uid_for
from orchestrator.errors import BadRequest, ConnectorError, PermanentConnectorError, TransientConnectorError
from tests.radicale import USER, Calendar, Radicale

ZONE = "Europe/Warsaw"
DAY = (datetime(2026, 12, 8, tzinfo=UTC), datetime(2026, 12, 9, tzinfo=UTC))


def connector(url: str | None) -> CalendarConnector:
    return build(Values(caldav_url=url, timezone=ZONE), None)  # type: ignore[arg-type]


def booking(**extra: Any) -> dict[str, Any]:
    fields = {"op": "create", "with": "Jane@Acme.com", "title": "Call with Jane", "start": "2026-12-08T10:00"}
    return {**fields, "minutes": "30", "event": "new", "was": "-", **extra}


async def test_a_booking_is_created_once_in_the_operators_zone(calendar: Calendar) -> None:
    c = connector(calendar.url)
    fields = c.validate(booking())
    assert fields["tz"] == ZONE and fields["with"] == "jane@acme.com"
    said = await c.apply(fields, "p7:0")
    assert said == "Booked “Call with Jane” with jane@acme.com on Tue 8 Dec 10:00–10:30 (Europe/Warsaw)"
    again = await c.apply(fields, "p7:0")  # a retry after a lost answer: 412, found by its UID
    assert again.endswith("(found on the calendar by its UID)")
    [event] = await calendar.events(*DAY)
    assert event.uid == uid_for("p7:0") and event.attendees == ("jane@acme.com",)
    assert event.start == datetime(2026, 12, 8, 9, 0, tzinfo=UTC)  # 10:00 in Warsaw is 09:00 UTC
    assert event.end - event.start == timedelta(minutes=30)


async def test_the_hand_over_is_reported_just_before_the_request(calendar: Calendar) -> None:
    c, seen = connector(calendar.url), []

    async def handing_over() -> None:
        seen.append(len(await calendar.events(*DAY)))

    await c.apply(c.validate(booking()), "p8:0", handing_over)
    assert seen == [0] and len(await calendar.events(*DAY)) == 1


async def test_move_and_cancel_check_the_event_first(calendar: Calendar) -> None:
    c = connector(calendar.url)
    await c.apply(c.validate(booking()), "p9:0")
    uid = uid_for("p9:0")
    move = c.validate(booking(op="move", event=uid, was="2026-12-08T10:00", start="2026-12-08T11:00"))
    assert c.preview(move).summary == (
        "Move “Call with Jane” with jane@acme.com from Tue 8 Dec 10:00 to Tue 8 Dec 11:00–11:30 (Europe/Warsaw)"
    )
    assert (
        await c.apply(move, "p10:0")
        == "Moved “Call with Jane” with jane@acme.com to Tue 8 Dec 11:00–11:30 (Europe/Warsaw)"
    )
    assert (await c.apply(move, "p10:0")).endswith("(it was already there)")
    [event] = await calendar.events(*DAY)
    assert event.start == datetime(2026, 12, 8, 10, 0, tzinfo=UTC) and event.uid == uid
    stale = c.validate(booking(op="cancel", event=uid))  # the card still says 10:00
    with pytest.raises(PermanentConnectorError, match="not the one on the card"):
        await c.apply(stale, "p11:0")
    cancel = c.validate(booking(op="cancel", event=uid, start="2026-12-08T11:00"))
    assert (
        await c.apply(cancel, "p12:0")
        == "Cancelled “Call with Jane” with jane@acme.com on Tue 8 Dec 11:00–11:30 (Europe/Warsaw)"
    )
    assert (await c.apply(cancel, "p12:0")).endswith("(it was already off the calendar)")
    assert await calendar.events(*DAY) == []


async def test_between_reads_events_of_other_clients_and_expands_repeats(calendar: Calendar) -> None:
    ics = (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//t//EN\r\nBEGIN:VEVENT\r\nUID:standup\r\n"
        "DTSTAMP:20261201T000000Z\r\nDTSTART;TZID=Europe/Warsaw:20261207T093000\r\nDURATION:PT15M\r\n"
        "RRULE:FREQ=DAILY;COUNT=5\r\nSUMMARY:Standup\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
    )
    assert await calendar.dav.create("standup", ics, _nothing)
    events = await calendar.events(*DAY)
    assert [(e.title, e.start) for e in events] == [("Standup", datetime(2026, 12, 8, 8, 30, tzinfo=UTC))]


async def test_bad_fields_are_refused_with_a_sentence() -> None:
    c = connector(None)
    with pytest.raises(BadRequest, match="not a date and time"):
        c.validate(booking(start="Tuesday"))
    with pytest.raises(BadRequest, match="not a valid email"):
        c.validate(booking(**{"with": "jane"}))
    with pytest.raises(BadRequest, match="UID"):
        c.validate(booking(op="cancel", event=""))
    assert "DEPUTY_CALDAV_URL" in c.unavailable()
    with pytest.raises(PermanentConnectorError, match="DEPUTY_CALDAV_URL"):
        await c.apply(c.validate(booking()), "p1:0")


async def test_doctor_says_what_to_fix_and_never_the_password(radicale: Radicale, calendar: Calendar) -> None:
    [ok] = await doctor(Values(caldav_url=calendar.url, timezone=ZONE))
    assert ok.ok and "answers" in ok.detail and "p%40ss" not in ok.line()
    wrong = calendar.url.replace("p%40ss", "nope")
    [refused] = await doctor(Values(caldav_url=wrong))
    assert not refused.ok and "refused the login" in refused.detail and "nope" not in refused.line()
    missing = calendar.url.rsplit("/", 2)[0] + "/no-such-calendar/"
    [absent] = await doctor(Values(caldav_url=missing))
    assert not absent.ok and "no calendar at" in absent.detail
    [unset] = await doctor(Values())
    assert unset.info and "DEPUTY_CALDAV_URL" in unset.detail
    assert USER in ok.detail or "127.0.0.1" in ok.detail


async def test_a_stopped_server_is_transient_before_the_hand_over(radicale: Radicale, calendar: Calendar) -> None:
    c = connector(calendar.url)
    radicale.stop()
    try:
        with pytest.raises(TransientConnectorError, match="nothing changed") as caught:
            await c.apply(c.validate(booking()), "p2:0")
        assert "p%40ss" not in str(caught.value) and "p@ss" not in str(caught.value)
    finally:
        radicale.start()
    assert await c.apply(c.validate(booking()), "p2:0")
    assert len(await calendar.events(*DAY)) == 1


async def test_a_request_lost_after_the_hand_over_can_not_tell(calendar: Calendar) -> None:
    dav = CalDav(calendar.url, deadline_s=0.001)  # gives up at once, after the hand-over

    with pytest.raises(ConnectorError, match="may or may not have changed") as caught:
        await CalendarConnector(dav, ZONE).apply(connector(None).validate(booking()), "p3:0")
    assert not isinstance(caught.value, TransientConnectorError | PermanentConnectorError)


async def _nothing() -> None:
    return None


async def test_a_booking_is_also_found_by_the_name_deputy_gave_it(calendar: Calendar) -> None:
    """For servers whose search by UID falls short: the event is read back from `<uid>.ics` itself."""
    c = connector(calendar.url)
    await c.apply(c.validate(booking()), "p4:0")
    stored = await calendar.dav._named(uid_for("p4:0"))
    assert stored is not None and stored.etag and stored.entry.attendees == ("jane@acme.com",)
    assert stored.href.endswith(".ics") and await calendar.dav._named("nobody") is None
