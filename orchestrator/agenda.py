"""The operator's calendar as the rest of Deputy reads it — the digest's "today", the answer to "what's on
tomorrow?", the overlap warning on a booking card — and the one way an event is written in words. Pure: the
CalDAV adapter (connectors/calendar.py) serves the `Agenda` port."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo


@dataclass(frozen=True)
class Entry:
    """One event as read from the calendar: its text (title, attendees) is untrusted data."""

    uid: str
    title: str
    start: datetime
    end: datetime
    attendees: tuple[str, ...] = ()


class Agenda(Protocol):
    """Read-only access to the calendar. Raises a `ConnectorError` (a sentence) when it can't be read."""

    async def between(self, start: datetime, end: datetime) -> list[Entry]:
        """Events overlapping [start, end), recurring ones expanded, by start time."""
        ...


def day_bounds(day: date, zone: str) -> tuple[datetime, datetime]:
    """A local day as an aware [start, end): 24 h, or 23/25 on the days the clocks change."""
    tz = ZoneInfo(zone)
    start = datetime.combine(day, time(0), tz)
    return start, datetime.combine(day + timedelta(days=1), time(0), tz)


async def today(agenda: Agenda | None, day: date, zone: str) -> list[str]:
    """The digest's "On the calendar today" lines, or the one line saying the calendar could not be read."""
    if agenda is None:
        return []
    try:
        return [line(e, zone) for e in await agenda.between(*day_bounds(day, zone))]
    except Exception as err:  # a digest goes out whatever the calendar does; it says why its lines are missing
        return [f"(the calendar could not be read: {err})"]


def overlapping(entries: list[Entry], start: datetime, end: datetime, skip: str = "") -> list[Entry]:
    """The entries that share some time with [start, end), the one named `skip` (the event being moved) aside."""
    return [e for e in entries if e.start < end and e.end > start and e.uid != skip]


def span(entry: Entry, zone: str) -> str:
    """`10:00–10:30`, in the operator's zone; an all-day event says so."""
    s, e = entry.start.astimezone(ZoneInfo(zone)), entry.end.astimezone(ZoneInfo(zone))
    if (s.time(), e.time()) == (time(0), time(0)) and e - s >= timedelta(days=1):
        return "all day"
    return f"{s:%H:%M}–{e:%H:%M}"


def line(entry: Entry, zone: str) -> str:
    """`10:00–10:30 Call with Jane (with jane@acme.com)`: a digest line, an agenda line."""
    who = f" (with {', '.join(entry.attendees[:3])})" if entry.attendees else ""
    return f"{span(entry, zone)} {_title(entry)}{who}"


def dated(entry: Entry, zone: str) -> str:
    """`Tue 8 Dec 10:00–10:30 “Call with Jane”`: an overlap warning names the day too."""
    s = entry.start.astimezone(ZoneInfo(zone))
    return f"{s:%a} {s.day} {s:%b} {span(entry, zone)} “{_title(entry)}”"


def record(entry: Entry, zone: str) -> str:
    """The line a prompt carries for an event (the model reads it; the offline model parses it with `RECORD`)."""
    s, e = entry.start.astimezone(ZoneInfo(zone)), entry.end.astimezone(ZoneInfo(zone))
    who = f" with {' '.join(entry.attendees[:5])}" if entry.attendees else ""
    return f"Event {s:%a %Y-%m-%d %H:%M}–{e:%H:%M} “{_title(entry)}”{who} (uid {entry.uid})"


RECORD = re.compile(
    r"^Event (?P<dow>\w{3}) (?P<date>\d{4}-\d{2}-\d{2}) (?P<start>\d{2}:\d{2})–(?P<end>\d{2}:\d{2}) “(?P<title>.*)”"
    r"(?: with (?P<with>[^()]+?))? \(uid (?P<uid>[^)]+)\)$"
)


def _title(entry: Entry) -> str:
    title = " ".join(entry.title.replace("“", '"').replace("”", '"').split())
    return (title[:79] + "…" if len(title) > 80 else title) or "(no title)"
