"""The offline model's reading of times — "in 3 days", "in 1 minute", "tomorrow at 9", "today at 15:30", "at 9am",
"tonight", "next week" — against the prompt's `Now:` line, in the operator's time zone, as a model reads them."""

from __future__ import annotations

import re
from datetime import datetime, time, timedelta

_NOW = re.compile(r"^Now: (\S+)", re.M)
_NUMBERS = {"a": 1, "an": 1, "one": 1, "two": 2, "three": 3}
_UNITS = {"min": "minutes", "minute": "minutes", "hour": "hours", "day": "days", "week": "weeks"}
_IN = re.compile(r"\bin\s+(?P<n>an?|one|two|three|\d+)\s+(?P<unit>min|minute|hour|day|week)s?\b", re.I)
_DAY = re.compile(r"\b(?P<day>today|tonight|tomorrow|next\s+week)\b", re.I)
_AT = re.compile(r"\bat\s+(?P<h>\d{1,2})(?::(?P<m>\d{2}))?\s*(?P<half>am|pm)?\b", re.I)
MORNING, EVENING = time(9, 0), time(20, 0)


def now_in(system: str) -> datetime | None:
    """The time the prompt says it is (with its offset), if it says."""
    found = _NOW.search(system)
    try:
        return datetime.fromisoformat(found[1]) if found else None
    except ValueError:
        return None


def parse(text: str, now: datetime) -> tuple[datetime, str] | None:
    """The time `text` names and the text without it, or None when it names none."""
    if match := _IN.search(text):
        n = _NUMBERS.get(match["n"].lower()) or int(match["n"])
        return now + timedelta(**{_UNITS[match["unit"].lower()]: n}), _without(text, match)
    day, at = _DAY.search(text), _AT.search(text)
    if day is None and at is None:
        return None
    clock = _clock(at) if at else (EVENING if day and day["day"].lower() == "tonight" else MORNING)
    moment = datetime.combine(now.date() + timedelta(days=_days(day)), clock, now.tzinfo)
    if day is None and moment <= now:  # "at 9" once 9 has passed: tomorrow
        moment += timedelta(days=1)
    rest = _without(_without(text, at) if at else text, _DAY.search(_without(text, at) if at else text))
    return moment, rest


def _clock(match: re.Match[str]) -> time:
    hour, minute = int(match["h"]) % 24, int(match["m"] or 0) % 60
    if (match["half"] or "").lower() == "pm" and hour < 12:
        hour += 12
    if (match["half"] or "").lower() == "am" and hour == 12:
        hour = 0
    return time(hour, minute)


def _days(match: re.Match[str] | None) -> int:
    word = " ".join(match["day"].lower().split()) if match else "today"
    return {"tomorrow": 1, "next week": 7}.get(word, 0)


def _without(text: str, match: re.Match[str] | None) -> str:
    if match is None:
        return text
    return " ".join((text[: match.start()] + " " + text[match.end() :]).split())
