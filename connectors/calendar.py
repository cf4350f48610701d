"""`calendar.event` on the operator's CalDAV calendar (`DEPUTY_CALDAV_URL`): book a call, move it, cancel it —
each an action on a card, applied once. A booking's UID is derived from the action's key and created with
`If-None-Match: *`, so a second attempt (a retry after a worker died mid-request) gets 412 and finds the event by
its UID instead of booking it twice: the connector is resend-safe. A move or cancellation writes over the version
it read (`If-Match`) and first checks that the event is still the one the card shows; one already moved or gone
is done, not redone. Times are the operator's (`DEPUTY_TIMEZONE`); the event stores them in UTC."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from redis.asyncio import Redis

from connectors.caldav_store import CalDav, Stored, event_ics, moved
from connectors.deadlines import deadline_s
from connectors.email import check_address
from orchestrator.agenda import Entry
from orchestrator.errors import BadRequest, ConnectorError, PermanentConnectorError, TransientConnectorError
from orchestrator.kinds import Check, Preview, Traits
from orchestrator.ports import Connector, HandOver, no_hand_over

TRAITS = Traits("calendar.event", outward=True, minutes_saved=3.0, noun="calendar change", done="made")
NOT_SET = "no calendar is set up (set DEPUTY_CALDAV_URL to the calendar collection's address)"
DEADLINE_S = 20.0
OPS = ("create", "move", "cancel")
_UID = re.compile(r"^[^\s/\\<>\"]{1,255}$")
_LOCAL = "%Y-%m-%dT%H:%M"


@dataclass(frozen=True)
class Values:
    """DEPUTY_CALDAV_URL and DEPUTY_TIMEZONE, checked at start by config/settings.py."""

    caldav_url: str | None = None
    timezone: str = "UTC"
    job_timeout_s: int = 600


def build(values: Values, redis: Redis) -> CalendarConnector:
    """Built without a calendar too (like email without SMTP): a booking can be drafted, and its card says why
    it can't be approved."""
    limit = deadline_s(values.job_timeout_s, DEADLINE_S)
    dav = CalDav(values.caldav_url, values.timezone, deadline_s=limit) if values.caldav_url else None
    return CalendarConnector(dav, values.timezone)


async def doctor(values: Values) -> list[Check]:
    """Reach the collection with the configured login (a PROPFIND): nothing is read or written."""
    if not values.caldav_url:
        return [Check("Calendar", True, f"{NOT_SET}: calls can't be booked", info=True)]
    dav = CalDav(values.caldav_url, values.timezone)
    try:
        said = await dav.check()
    except ConnectorError as err:
        return [Check("Calendar", False, str(err))]
    return [Check("Calendar", True, f"{said}, times in {values.timezone}")]


def agenda_of(connectors: Mapping[str, Connector]) -> CalDav | None:
    """The configured calendar, read-only, for the digest and the drafts (None when there is none)."""
    connector: Any = connectors.get(TRAITS.kind)
    while connector is not None and not isinstance(connector, CalendarConnector):
        connector = getattr(connector, "inner", None)
    return connector.dav if connector is not None else None


class CalendarConnector:
    kind, traits = TRAITS.kind, TRAITS
    resend_safe = True
    """A create is keyed by its UID (a repeat gets 412), a move or cancel checks what is there first."""

    def __init__(self, dav: CalDav | None, zone: str = "UTC") -> None:
        self.dav, self.zone = dav, zone

    # ---- the card ------------------------------------------------------------------------------------------

    def validate(self, fields: dict[str, Any]) -> dict[str, Any]:
        op = str(fields.get("op", "")).strip().lower()
        if op not in OPS:
            raise BadRequest(f"'{fields.get('op')}' is not a calendar change: create, move or cancel.")
        zone = _zone(str(fields.get("tz") or self.zone))
        start = _local(fields.get("start"), zone, "start")
        minutes = _minutes(fields.get("minutes", 30))
        event = str(fields.get("event", "")).strip()
        if op != "create" and not _UID.match(event):
            raise BadRequest("Which event? The change needs the event's UID from the calendar.")
        title = " ".join(str(fields.get("title", "")).split())[:200]
        if not title:
            raise BadRequest("The event needs a title.")
        was = _local(fields.get("was"), zone, "was") if op == "move" else ""
        who = check_address(str(fields.get("with", "")))
        return {
            "op": op,
            "with": who,
            "title": title,
            "start": start,
            "minutes": str(minutes),
            "event": event if op != "create" else "new",
            "was": was,
            "tz": zone,
        }

    def preview(self, fields: dict[str, Any]) -> Preview:
        zone, title, who = fields.get("tz", self.zone), fields["title"], fields["with"]
        start, end = _window(fields)
        when = f"{_day(start)} {start:%H:%M}–{end:%H:%M} ({zone})"
        if fields["op"] == "create":
            summary = f"Book “{title}” with {who} on {when}"
        elif fields["op"] == "move":
            was = datetime.strptime(fields["was"], _LOCAL)
            summary = f"Move “{title}” with {who} from {_day(was)} {was:%H:%M} to {when}"
        else:
            summary = f"Cancel “{title}” with {who} on {when}"
        where = self.dav.where if self.dav else "no calendar set up"
        return Preview(summary, target=who, body=f"Calendar: {where}")

    def unavailable(self) -> str:
        return "" if self.dav is not None else f"the event can't be saved: {NOT_SET}"

    # ---- applying ------------------------------------------------------------------------------------------

    async def apply(self, fields: dict[str, Any], idempotency_key: str, handing_over: HandOver = no_hand_over) -> str:
        if self.dav is None:
            raise PermanentConnectorError(self.unavailable())
        if fields["op"] == "create":
            return await self._create(fields, uid_for(idempotency_key), handing_over)
        stored = await self.dav.find(fields["event"])
        if fields["op"] == "move":
            return await self._move(fields, stored, handing_over)
        return await self._cancel(fields, stored, handing_over)

    async def _create(self, fields: dict[str, Any], uid: str, handing_over: HandOver) -> str:
        assert self.dav is not None
        start, end = _aware(fields)
        ics = event_ics(uid=uid, title=fields["title"], start=start, end=end, attendees=[fields["with"]])
        if await self.dav.create(uid, ics, handing_over):
            return f"Booked “{fields['title']}” with {fields['with']} on {_when(fields)}"
        if await self.dav.find(uid) is None:  # 412, yet no event with our UID: another event holds the name
            raise PermanentConnectorError(f"the calendar already holds another event named {uid}.ics")
        return f"Booked “{fields['title']}” with {fields['with']} on {_when(fields)} (found on the calendar by its UID)"

    async def _move(self, fields: dict[str, Any], stored: Stored | None, handing_over: HandOver) -> str:
        assert self.dav is not None
        start, end = _aware(fields)
        if stored is None:
            raise PermanentConnectorError(f"“{fields['title']}” is no longer on the calendar; nothing was moved")
        if stored.entry.start == start and stored.entry.end == end:
            return f"Moved “{fields['title']}” to {_when(fields)} (it was already there)"
        _same_event(stored.entry, fields, _aware(fields, "was")[0])
        if not await self.dav.replace(stored, moved(stored.ics, fields["event"], start, end), handing_over):
            raise _changed(fields)
        return f"Moved “{fields['title']}” with {fields['with']} to {_when(fields)}"

    async def _cancel(self, fields: dict[str, Any], stored: Stored | None, handing_over: HandOver) -> str:
        assert self.dav is not None
        if stored is None:
            return f"Cancelled “{fields['title']}” on {_when(fields)} (it was already off the calendar)"
        _same_event(stored.entry, fields, _aware(fields)[0])
        if not await self.dav.delete(stored, handing_over):
            raise _changed(fields)
        return f"Cancelled “{fields['title']}” with {fields['with']} on {_when(fields)}"


def uid_for(idempotency_key: str) -> str:
    """The booking's UID, from its action's key: the same on every attempt, unique to the action."""
    return "deputy-" + re.sub(r"[^A-Za-z0-9-]", "-", idempotency_key) + "@deputy"


def _same_event(entry: Entry, fields: dict[str, Any], start: datetime) -> None:
    """The event on the calendar is the one the card shows (its time and its attendee), or nothing is changed."""
    if entry.start != start or fields["with"] not in {a.lower() for a in entry.attendees}:
        raise PermanentConnectorError(
            f"the event on the calendar is not the one on the card (it is “{entry.title}” at "
            f"{entry.start.astimezone(ZoneInfo(fields['tz'])):%a %d %b %H:%M}); nothing was changed"
        )


def _changed(fields: dict[str, Any]) -> ConnectorError:
    return TransientConnectorError(f"“{fields['title']}” changed on the calendar meanwhile; reading it again")


def _window(fields: dict[str, Any]) -> tuple[datetime, datetime]:
    start = datetime.strptime(fields["start"], _LOCAL)
    return start, start + timedelta(minutes=int(fields["minutes"]))


def _aware(fields: dict[str, Any], name: str = "start") -> tuple[datetime, datetime]:
    start = datetime.strptime(fields[name], _LOCAL).replace(tzinfo=ZoneInfo(fields["tz"]))
    return start, start + timedelta(minutes=int(fields["minutes"]))


def _when(fields: dict[str, Any]) -> str:
    start, end = _window(fields)
    return f"{_day(start)} {start:%H:%M}–{end:%H:%M} ({fields['tz']})"


def _day(at: datetime) -> str:
    return f"{at:%a} {at.day} {at:%b}"


def _zone(name: str) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise BadRequest(f"'{name}' is not a time zone (e.g. Europe/Warsaw).") from None
    return name


def _local(value: Any, zone: str, name: str) -> str:
    """A local time as `YYYY-MM-DDTHH:MM`; one given with an offset is turned into the operator's zone."""
    try:
        at = datetime.fromisoformat(str(value or "").strip())
    except ValueError:
        raise BadRequest(f"`{name}` '{value}' is not a date and time like 2026-12-08T10:00.") from None
    if at.tzinfo is not None:
        at = at.astimezone(ZoneInfo(zone)).replace(tzinfo=None)
    return at.strftime(_LOCAL)


def _minutes(value: Any) -> int:
    try:
        minutes = int(str(value).strip().removesuffix("min").strip())
    except ValueError:
        raise BadRequest(f"'{value}' is not a number of minutes.") from None
    if not 5 <= minutes <= 24 * 60:
        raise BadRequest("A call lasts between 5 minutes and a day.")
    return minutes
