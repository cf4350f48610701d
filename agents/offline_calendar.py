"""The offline model's calendar: a small, documented grammar (docs/calendar.md), read against the prompt's `Now:`
line and the calendar lines of its memory block (agents/agenda.py), deterministically.

- "book a call with <address or client> on <day> at <time> [for <n> minutes]" — a new event;
- "move my call with <who> [on <day>] to [<day>] [at] <time> [for <n> minutes]" — an event on the calendar;
- "cancel the call with <who> [on <day>]";
- "what's on today / tomorrow / <weekday>?" — the answer.

A day is today, tomorrow, a weekday (the next one; today if its time is still to come), `2026-12-08` or `8 Dec`; a
time is `10`, `10:30`, `3pm` or `noon`; a length `30 minutes`, `1 hour`, `an hour`, `half an hour`."""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta
from typing import Any

from agents import prompts
from orchestrator.agenda import RECORD

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
_WEEKDAY = re.compile(r"\b(mon|tue|wed|thu|fri|sat|sun)[a-z]*\b", re.I)
_RELATIVE = re.compile(r"\b(today|tonight|tomorrow)\b", re.I)
_ISO = re.compile(r"\b(\d{4})-(\d{2})-(\d{2})\b")
_DAY_MONTH = re.compile(r"\b(\d{1,2})(?:st|nd|rd|th)?\s+(" + "|".join(MONTHS) + r")[a-z]*\b", re.I)
_MONTH_DAY = re.compile(r"\b(" + "|".join(MONTHS) + r")[a-z]*\s+(\d{1,2})(?:st|nd|rd|th)?\b", re.I)
_AT = re.compile(r"\bat\s+(?:(?P<noon>noon)|(?P<h>\d{1,2})(?::(?P<m>\d{2}))?\s*(?P<half>am|pm)?)\b", re.I)
_BARE = re.compile(r"^\s*(?:at\s+)?(?P<h>\d{1,2})(?::(?P<m>\d{2}))?\s*(?P<half>am|pm)?\s*$", re.I)
_FOR = re.compile(
    r"\bfor\s+(?:(?P<n>\d+)\s*(?P<unit>m|mins?|minutes?|h|hrs?|hours?)\b|(?P<half>half\s+an\s+hour)|an?\s+hour)", re.I
)
_WITH = re.compile(r"\bwith\s+(?P<who>[\w.+-]+@[\w-]+(?:\.[\w-]+)+|[A-Za-z][\w'-]*(?:\s+[A-Z][\w'-]*)?)", re.I)
_TO = re.compile(r"\s+to\s+(?P<new>.+)$", re.I)
_OP = re.compile(r"^\s*(?:please\s+)?(?P<verb>move|reschedule|push|cancel)\b", re.I)
_STOP = {"on", "at", "for", "today", "tomorrow", "tonight", "to", "next", "this"}


def booking(text: str, memory: str, now: datetime) -> dict[str, Any]:
    verb = _OP.match(text)
    op = {"cancel": "cancel"}.get(verb["verb"].lower(), "move") if verb else "create"
    who = _who(text)
    if not who:
        return {"question": "With whom? e.g. 'book a call with jane@acme.com on Tuesday at 10 for 30 minutes'."}
    if op == "create":
        return _create(text, who, memory, now)
    return _change(op, text, who, memory, now)


def _create(text: str, who: str, memory: str, now: datetime) -> dict[str, Any]:
    address, name = _address(who, memory)
    if not address:
        return {"question": f"What is {who}'s address? e.g. 'book a call with jane@acme.com on Tuesday at 10'."}
    at = _moment(text, now)
    if at is None:
        return {"question": "When? e.g. 'on Tuesday at 10', 'tomorrow at 3pm' or 'on 8 Dec at 10:30'."}
    noun = "Meeting" if re.search(r"\bmeeting\b", text, re.I) else "Call"
    title = f"{noun} with {name}"
    fields = {"op": "create", "with": address, "title": title, "start": _iso(at), "minutes": str(_length(text))}
    summary = f"Book a {noun.lower()} with {address} on {at:%a} {at.day} {at:%b} at {at:%H:%M}"
    return {"summary": summary, "confidence": 0.9, "fields": {**fields, "event": "new", "was": "-"}}


def _change(op: str, text: str, who: str, memory: str, now: datetime) -> dict[str, Any]:
    head, new = _split(text)
    day = _day(head, now, None)
    event = _event(who, memory, day)
    if event is None:
        on = f" on {day:%a} {day.day} {day:%b}" if day else " in the coming week"
        return {"question": f"I can't find a call with {who} on the calendar{on}. Check the name, or say the day."}
    start = datetime.fromisoformat(f"{event['date']}T{event['start']}")
    length = _span(event)
    fields = {"op": op, "with": _first_address(event["with"] or ""), "title": event["title"], "event": event["uid"]}
    if op == "cancel":
        summary = f"Cancel “{event['title']}” on {start:%a} {start.day} {start:%b} at {start:%H:%M}"
        return {"summary": summary, "confidence": 0.9, "fields": {**fields, **_times(start, length, "-")}}
    moved = _moved(new, start, now)
    if moved is None:
        return {"question": "Move it to when? e.g. 'move my call with Jane to 11' or '… to Thursday at 3pm'."}
    minutes = _length(new, length) if new else length
    summary = f"Move “{event['title']}” to {moved:%a} {moved.day} {moved:%b} at {moved:%H:%M}"
    return {"summary": summary, "confidence": 0.9, "fields": {**fields, **_times(moved, minutes, _iso(start))}}


def agenda(text: str, memory: str, now: datetime) -> dict[str, Any]:
    """The answer to "what's on tomorrow?": that day's lines of the calendar, or why there are none."""
    lines = [line for _, line in prompts.memory_records(memory)]
    trouble = next((line for line in lines if line.startswith("Calendar: ") and "no events" not in line), "")
    day = _day(text, now, now.date()) or now.date()
    name = {0: "Today", 1: "Tomorrow"}.get((day - now.date()).days, f"{day:%A}")
    if trouble:
        return _said(f"I can't say what's on {name.lower()}: {trouble.removeprefix('Calendar: ')}.")
    found = [m for line in lines if (m := RECORD.match(line)) and m["date"] == day.isoformat()]
    if not found:
        return _said(f"Nothing on the calendar {name.lower()} ({day:%a} {day.day} {day:%b}).")
    items = [f"  • {m['start']}–{m['end']} {m['title']}" + (f" (with {m['with']})" if m["with"] else "") for m in found]
    return _said("\n".join([f"{name}, {day:%a} {day.day} {day:%b}:", *items]))


# ---- reading the request --------------------------------------------------------------------------------


def _who(text: str) -> str:
    found = _WITH.search(text)
    if found is None:
        return ""
    words = found["who"].split()
    return words[0] if len(words) > 1 and words[1].lower() in _STOP else found["who"]


def _address(who: str, memory: str) -> tuple[str, str]:
    """An address as given, or the one of the client record whose name has `who` in it; and a first name."""
    if "@" in who:
        return who.lower(), _first_name(who, memory) or who.split("@")[0].split(".")[0].capitalize()
    for _, line in prompts.memory_records(memory):
        record = re.match(r"^(?P<name>[^<—]+?) <(?P<address>[^>]+)> — ", line)
        if record and who.lower() in record["name"].lower().split():
            return record["address"].lower(), record["name"].split()[0]
    return "", ""


def _first_name(address: str, memory: str) -> str:
    for _, line in prompts.memory_records(memory):
        if f"<{address.lower()}>" in line.lower():
            return line.split()[0]
    return ""


def _event(who: str, memory: str, day: date | None) -> re.Match[str] | None:
    """The first calendar line (in time order) with `who` among its attendees or in its title, on `day` if given."""
    needle = who.lower()
    for _, line in prompts.memory_records(memory):
        m = RECORD.match(line)
        if m is None or (day is not None and m["date"] != day.isoformat()):
            continue
        attendees = (m["with"] or "").lower()
        if needle in attendees.split() or needle in re.split(r"[\s@.]+", attendees) or needle in m["title"].lower():
            return m
    return None


def _split(text: str) -> tuple[str, str]:
    """ "move my call with Jane on Tuesday to Thursday at 11" → the part naming the call, the part naming when."""
    found = _TO.search(text)
    return (text[: found.start()], found["new"]) if found else (text, "")


def _moved(new: str, start: datetime, now: datetime) -> datetime | None:
    bare = _BARE.match(new)
    clock = _clock(bare) if bare else (_clock(at) if (at := _AT.search(new)) else None)
    day = _day(new, now, None) or start.date()
    if clock is None:
        return datetime.combine(day, start.time()) if day != start.date() else None
    return datetime.combine(day, clock)


def _moment(text: str, now: datetime) -> datetime | None:
    at = _AT.search(text)
    if at is None:
        return None
    clock = _clock(at)
    day = _day(text, now, None, clock) or now.date()
    moment = datetime.combine(day, clock)
    return moment + timedelta(days=1) if moment <= now.replace(tzinfo=None) and not _named_day(text) else moment


def _day(text: str, now: datetime, default: date | None, clock: time | None = None) -> date | None:
    today = now.date()
    if m := _ISO.search(text):
        return date(int(m[1]), int(m[2]), int(m[3]))
    if m := (_DAY_MONTH.search(text) or _MONTH_DAY.search(text)):
        day, month = (m[1], m[2]) if m[1].isdigit() else (m[2], m[1])
        found = date(today.year, MONTHS.index(month[:3].lower()) + 1, int(day))
        return found if found >= today else found.replace(year=today.year + 1)
    if m := _RELATIVE.search(text):
        return today + timedelta(days=1 if m[1].lower() == "tomorrow" else 0)
    if m := _WEEKDAY.search(text):
        ahead = (WEEKDAYS.index(next(w for w in WEEKDAYS if w.startswith(m[1].lower()))) - today.weekday()) % 7
        late = ahead == 0 and clock is not None and clock <= now.time().replace(tzinfo=None)
        return today + timedelta(days=7 if late else ahead)
    return default


def _named_day(text: str) -> bool:
    return any(p.search(text) for p in (_ISO, _DAY_MONTH, _MONTH_DAY, _RELATIVE, _WEEKDAY))


def _clock(match: re.Match[str]) -> time:
    if match.groupdict().get("noon"):
        return time(12, 0)
    hour, minute = int(match["h"]) % 24, int(match["m"] or 0) % 60
    half = (match["half"] or "").lower()
    hour += 12 if half == "pm" and hour < 12 else 0
    return time(0 if half == "am" and hour == 12 else hour, minute)


def _length(text: str, default: int = 30) -> int:
    found = _FOR.search(text)
    if found is None:
        return default
    if found["half"]:
        return 30
    if found["n"] is None:
        return 60
    return int(found["n"]) * (60 if found["unit"].lower().startswith("h") else 1)


def _span(event: re.Match[str]) -> int:
    start, end = (datetime.strptime(event[k], "%H:%M") for k in ("start", "end"))
    return int((end - start).total_seconds() // 60) % (24 * 60) or 30


def _times(start: datetime, minutes: int, was: str) -> dict[str, str]:
    return {"start": _iso(start), "minutes": str(minutes), "was": was}


def _iso(at: datetime) -> str:
    return at.strftime("%Y-%m-%dT%H:%M")


def _first_address(attendees: str) -> str:
    return attendees.split()[0] if attendees.split() else ""


def _said(answer: str) -> dict[str, Any]:
    return {"summary": "From the calendar", "confidence": 0.9, "fields": {"answer": answer}}
