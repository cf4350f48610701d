"""`task.later`: run a request at a later time — drafted then as a new task in the same chat, with its own card — or,
for a plain reminder, say it then. Applying it only records the request under its idempotency key (a repeat
changes nothing, so it is safe to re-send); the scheduler fires it once (orchestrator/handlers/later.py)."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from redis.asyncio import Redis

from memory.later import RedisLater
from orchestrator.errors import BadRequest
from orchestrator.kinds import Preview, Traits
from orchestrator.ports import HandOver, Scheduled, no_hand_over

MAX_REQUEST = 2000
PAST_GRACE = timedelta(minutes=5)
AHEAD = timedelta(days=366)


TRAITS = Traits("task.later", noun="request", done="scheduled")


@dataclass(frozen=True)
class Values:
    timezone: str = "UTC"
    """DEPUTY_TIMEZONE: a time without an offset is the operator's local time."""


def build(values: Values, redis: Redis) -> LaterConnector:
    return LaterConnector(RedisLater(redis), values.timezone)


def when(at: datetime, timezone: str) -> str:
    """`Fri 4 Dec 09:00 (Europe/Warsaw)`: a time as the operator reads it."""
    local = at.astimezone(ZoneInfo(timezone))
    return f"{local:%a} {local.day} {local:%b %H:%M} ({timezone})"


_MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
_PLAIN = re.compile(
    r"^(?:on\s+)?(?P<rel>today|tomorrow)?\s*(?:(?:mon|tue|wed|thu|fri|sat|sun)[a-z]*,?\s+)?"
    r"(?:(?P<day>\d{1,2})\s+(?P<mon>[a-z]{3})[a-z]*\.?(?:\s+(?P<year>\d{4}))?)?"
    r"\s*,?\s*(?:at\s+)?(?:(?P<h>\d{1,2})(?::(?P<m>\d{2}))?\s*(?P<half>am|pm)?)?"
    r"\s*(?:\([\w/+-]+\))?$"
)


def plain_time(text: str, now: datetime, was: datetime | None = None) -> datetime | None:
    """A day and/or a time of day as people (and the card) write them, local to `now`'s zone; a part left out is
    `was`'s (the time it is set for now) or else the next such time. None when it isn't one."""
    found = _PLAIN.match(" ".join(text.lower().split()))
    if not found or not any(found[k] for k in ("rel", "day", "h")) or (found["day"] and found["mon"] not in _MONTHS):
        return None
    base = was or now.replace(hour=9, minute=0)  # a day alone is its morning, as "tomorrow" is
    hour, minute = int(found["h"]) if found["h"] else base.hour, int(found["m"] or 0) if found["h"] else base.minute
    hour += 12 if found["half"] == "pm" and hour < 12 else 0
    hour -= 12 if found["half"] == "am" and hour == 12 else 0
    if hour > 23 or minute > 59:
        return None
    if found["day"]:
        year = int(found["year"] or now.year)
        try:
            day = datetime(year, _MONTHS.index(found["mon"]) + 1, int(found["day"]), tzinfo=now.tzinfo).date()
        except ValueError:
            return None
        day = day.replace(year=year + 1) if not found["year"] and day < now.date() else day
    else:
        day = (now.date() + timedelta(days=1 if found["rel"] == "tomorrow" else 0)) if found["rel"] else base.date()
    at = datetime.combine(day, datetime.min.time().replace(hour=hour, minute=minute), now.tzinfo)
    return at + timedelta(days=1) if not (was or found["day"] or found["rel"]) and at <= now else at


class LaterConnector:
    kind, traits = TRAITS.kind, TRAITS
    resend_safe = True

    def __init__(self, later: RedisLater, timezone: str, now: Callable[[], datetime] | None = None) -> None:
        self.later, self.timezone = later, timezone
        self.now = now or (lambda: datetime.now(UTC))

    def validate(self, fields: dict[str, Any]) -> dict[str, Any]:
        request = str(fields.get("request", "")).strip()
        if not request:
            raise BadRequest("A task for later needs what to do then.")
        if len(request) > MAX_REQUEST:
            raise BadRequest(f"What to do later is over {MAX_REQUEST:,} characters.")
        at = self._time(fields.get("at"))
        now = self.now()
        if at < now - PAST_GRACE:
            raise BadRequest(f"{when(at, self.timezone)} has passed; pick a later time.")
        if at > now + AHEAD:
            raise BadRequest(f"{when(at, self.timezone)} is more than a year ahead.")
        return {"request": request, "at": at.isoformat(timespec="seconds"), "remind": bool(fields.get("remind"))}

    def _time(self, value: Any, was: datetime | None = None) -> datetime:
        """An ISO time, or a time as the card writes it (`Wed 9 Dec 12:25`, `9 Dec`, `12:25`, `tomorrow 9am`), in
        the operator's time zone (DEPUTY_TIMEZONE) unless it names an offset."""
        zone = ZoneInfo(self.timezone)
        try:
            at = datetime.fromisoformat(str(value).strip())
        except ValueError:
            found = plain_time(str(value), self.now().astimezone(zone), was.astimezone(zone) if was else None)
            if found is None:
                example = when(self.now() + timedelta(days=1), self.timezone).split(" (")[0]
                raise BadRequest(f"{value!r} is not a time; use e.g. 12:25, {example} or tomorrow 9am.") from None
            at = found
        return at if at.tzinfo else at.replace(tzinfo=zone)

    def amend(self, fields: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
        """`/edit <id> at 12:25`: a time alone keeps the day the request is set for, a day alone keeps its time."""
        if "at" not in changes or "at" not in fields:
            return changes
        was = datetime.fromisoformat(str(fields["at"]))
        return {**changes, "at": self._time(changes["at"], was).isoformat(timespec="seconds")}

    def preview(self, fields: dict[str, Any]) -> Preview:
        what = "remind you" if fields["remind"] else "draft"
        at = datetime.fromisoformat(fields["at"])
        return Preview(summary=f"On {when(at, self.timezone)} I'll {what}: {fields['request']}", target="this chat")

    def unavailable(self) -> str:
        return ""

    async def apply(self, fields: dict[str, Any], idempotency_key: str, handing_over: HandOver = no_hand_over) -> str:
        """Resend-safe (recorded under the key, a repeat is a no-op), so there is no hand-over to report."""
        at = datetime.fromisoformat(fields["at"])
        await self.later.put(Scheduled(idempotency_key, fields["request"], at, bool(fields["remind"])))
        return f"Scheduled for {when(at, self.timezone)}"
