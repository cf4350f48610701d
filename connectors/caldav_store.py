"""The one CalDAV collection `DEPUTY_CALDAV_URL` names, through the `caldav` library's async client: read events
in a window, find one by UID, create one exactly once, replace or delete one only if it is still the version that
was read. Every call has its own deadline, and every failure is a sentence of the connector error tree: a refused
connection, a timeout or a 5xx is transient (nothing changed), a 4xx permanent, and a login refused says which
variable to fix. Credentials never leave this module: URLs in errors are shown without them."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from orchestrator.agenda import Entry
from orchestrator.errors import ConnectorError, PermanentConnectorError, TransientConnectorError
from orchestrator.text import masked

if TYPE_CHECKING:  # caldav and icalendar are imported where used: every process imports this module, few call
    from caldav.aio import AsyncDAVClient  # a calendar, and the two cost a third of a worker's start

T = TypeVar("T")
PRODID = "-//Deputy//calendar.event//EN"
UID_QUERY = """<?xml version="1.0" encoding="utf-8"?>
<C:calendar-query xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav">
  <D:prop><D:getetag/><C:calendar-data/></D:prop>
  <C:filter><C:comp-filter name="VCALENDAR"><C:comp-filter name="VEVENT">
    <C:prop-filter name="UID"><C:text-match collation="i;octet">{uid}</C:text-match></C:prop-filter>
  </C:comp-filter></C:comp-filter></C:filter>
</C:calendar-query>"""


@dataclass(frozen=True)
class Stored:
    """An event as stored: where (`href`), which version (`etag`), and its text."""

    href: str
    etag: str
    ics: str
    entry: Entry


class CalDav:
    def __init__(self, url: str, zone: str = "UTC", *, deadline_s: float = 20.0) -> None:
        self.url = url if url.endswith("/") else url + "/"
        self.zone, self.deadline_s = zone, deadline_s
        parts = urlsplit(self.url)
        self.where = f"{parts.hostname}{f':{parts.port}' if parts.port else ''}{parts.path}"
        """The collection as cards and errors show it: host, port and path, never the credentials."""

    # ---- reads ---------------------------------------------------------------------------------------------

    async def between(self, start: datetime, end: datetime) -> list[Entry]:
        """Events overlapping [start, end), recurring ones expanded by the server."""

        async def query(client: AsyncDAVClient) -> Any:
            return await client.calendar_query(self.url, start=start, end=end, event=True, expand=True)

        response = await self._call(query, "read the calendar")
        _checked(response.status, "read the calendar", self.where)
        found = [e for r in response.results or [] for e in events_in(r.calendar_data or "", self.zone)]
        return sorted((e for e in found if e.start < end and e.end > start), key=lambda e: e.start)

    async def find(self, uid: str) -> Stored | None:
        """The event with this UID, wherever it is stored in the collection, or None."""
        body = UID_QUERY.format(uid=_xml(uid))

        async def query(client: AsyncDAVClient) -> Any:
            response = await client.report(self.url, body, depth=1)
            if response.status in (200, 207) and response._raw:
                response.results = list(response.parse_calendar_query())
            return response

        response = await self._call(query, "look the event up")
        _checked(response.status, "look the event up", self.where)
        for result in response.results or []:
            entries = [e for e in events_in(result.calendar_data or "", self.zone) if e.uid == uid]
            if entries:
                return Stored(result.href, result.etag or "", result.calendar_data or "", entries[0])
        return await self._named(uid)

    async def _named(self, uid: str) -> Stored | None:
        """The event stored under the name Deputy gives its own (`<uid>.ics`): found even where a server's search
        by UID falls short."""
        href = self.url + _safe(uid) + ".ics"

        async def get(client: AsyncDAVClient) -> Any:
            return await client.request(href, "GET")

        response = await self._call(get, "look the event up")
        if response.status == 404:
            return None
        _checked(response.status, "look the event up", self.where)
        ics = response.raw if isinstance(response.raw, str) else ""
        entries = [e for e in events_in(ics, self.zone) if e.uid == uid]
        etag = str(response.headers.get("ETag", ""))
        return Stored(urlsplit(href).path, etag, ics, entries[0]) if entries else None

    async def check(self) -> str:
        """`deputy doctor`'s probe: the collection answers a PROPFIND with this login. An error says what to fix."""

        async def probe(client: AsyncDAVClient) -> Any:
            return await client.propfind(self.url, depth=0)

        response = await self._call(probe, "reach the calendar")
        if response.status == 404:
            raise PermanentConnectorError(f"there is no calendar at {self.where}: check the path in DEPUTY_CALDAV_URL")
        _checked(response.status, "reach the calendar", self.where)
        return f"the calendar at {self.where} answers"

    # ---- writes --------------------------------------------------------------------------------------------

    async def create(self, uid: str, ics: str, before: Callable[[], Awaitable[None]]) -> bool:
        """PUT `<uid>.ics` with `If-None-Match: *`: True when created, False when an event was already there
        under that name (a 412: an earlier attempt made it). `before` runs just before the request leaves."""
        headers = {"If-None-Match": "*", "Content-Type": "text/calendar; charset=utf-8"}
        status = await self._write("PUT", self.url + _safe(uid) + ".ics", ics, headers, before)
        return status != 412

    async def replace(self, stored: Stored, ics: str, before: Callable[[], Awaitable[None]]) -> bool:
        """PUT over the version that was read (`If-Match`): False when it changed meanwhile (412)."""
        headers = {"Content-Type": "text/calendar; charset=utf-8", **_if_match(stored)}
        return await self._write("PUT", self._absolute(stored.href), ics, headers, before) != 412

    async def delete(self, stored: Stored, before: Callable[[], Awaitable[None]]) -> bool:
        """DELETE the version that was read: False when it changed meanwhile (412); gone already is fine."""
        return await self._write("DELETE", self._absolute(stored.href), "", _if_match(stored), before) != 412

    async def _write(
        self, method: str, url: str, body: str, headers: dict[str, str], before: Callable[[], Awaitable[None]]
    ) -> int:
        handed = _Handed()

        async def send(client: AsyncDAVClient) -> Any:
            try:
                await before()
            except Exception as err:
                raise TransientConnectorError(
                    f"nothing was changed: the hand-over could not be recorded ({err})"
                ) from err
            handed.over = True
            return await client.request(url, method, body, headers)

        response = await self._call(send, "change the calendar", handed)
        allowed = (412, 404) if method == "DELETE" else (412,)
        _checked(response.status, "change the calendar", self.where, allowed)
        return int(response.status)

    # ---- the call ------------------------------------------------------------------------------------------

    async def _call(
        self, step: Callable[[AsyncDAVClient], Awaitable[T]], what: str, handed: _Handed | None = None
    ) -> T:
        """One request with its own client and deadline. Once `handed` is over, the request may have reached the
        server before it failed: a retry then finds out (by UID or by version) what became of it."""
        from caldav.aio import AsyncDAVClient
        from caldav.lib import error as dav_error

        basic = "basic" if urlsplit(self.url).password is not None else None  # no 401 round trip first
        client = AsyncDAVClient(url=self.url, timeout=max(1, int(self.deadline_s)), auth_type=basic)
        try:
            return await asyncio.wait_for(step(client), self.deadline_s)
        except dav_error.AuthorizationError as err:
            raise PermanentConnectorError(
                f"the calendar at {self.where} refused the login: check the user and password in DEPUTY_CALDAV_URL"
            ) from err
        except (TimeoutError, OSError, dav_error.DAVError) as err:
            why = _why(err)
            if handed is not None and handed.over and not _never_connected(err):
                raise ConnectorError(
                    f"couldn't {what} at {self.where} ({why}); it may or may not have changed"
                ) from err
            changed = "" if handed is None else "; nothing changed"  # a read changes nothing anyway
            raise TransientConnectorError(f"couldn't {what} at {self.where} ({why}){changed}") from err
        finally:
            await client.close()

    def _absolute(self, href: str) -> str:
        if "://" in href:
            return href
        parts = urlsplit(self.url)
        return f"{parts.scheme}://{parts.netloc}{href}"


def _never_connected(err: BaseException) -> bool:
    """The connection was never made (refused, no such host): the request can't have reached the server."""
    seen: BaseException | None = err
    while seen is not None:
        if isinstance(seen, ConnectionRefusedError) or "Failed to establish a new connection" in str(seen):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def _why(err: BaseException) -> str:
    if isinstance(err, TimeoutError):
        return "no answer in time"
    if _never_connected(err):
        return "can't connect: is the server up?"
    return masked(" ".join(str(err).split()) or type(err).__name__)[:160]


class _Handed:
    over = False


def _checked(status: int, what: str, where: str, allowed: tuple[int, ...] = ()) -> None:
    if status < 300 or status == 207 or status in allowed:
        return
    if status >= 500 or status == 429:
        raise TransientConnectorError(f"the calendar at {where} answered {status} when asked to {what}")
    raise PermanentConnectorError(f"the calendar at {where} refused to {what} ({status})")


def _if_match(stored: Stored) -> dict[str, str]:
    return {"If-Match": stored.etag} if stored.etag else {}


def _safe(uid: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]", "_", uid)


def _xml(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


# ---- iCalendar ---------------------------------------------------------------------------------------------


def events_in(ics: str, zone: str) -> list[Entry]:
    """The VEVENTs of a calendar object; a date-only (all-day) event runs from local midnight to midnight."""
    from icalendar import Calendar as ICalendar

    try:
        parsed = ICalendar.from_ical(ics)
    except ValueError:
        return []
    found = []
    for event in parsed.walk("VEVENT"):
        start = _moment(event.get("DTSTART"), zone)
        if start is None:
            continue
        end = _moment(event.get("DTEND"), zone) or start + _duration(event)
        who = event.get("ATTENDEE") or []
        attendees = tuple(str(a).removeprefix("mailto:").removeprefix("MAILTO:") for a in _listed(who))
        found.append(Entry(str(event.get("UID", "")), str(event.get("SUMMARY", "")), start, end, attendees))
    return found


def event_ics(*, uid: str, title: str, start: datetime, end: datetime, attendees: list[str], sequence: int = 0) -> str:
    """One VEVENT, times in UTC (every client shows them in its own zone)."""
    from icalendar import Calendar as ICalendar
    from icalendar import Event as IEvent

    calendar = ICalendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    event = IEvent()
    event.add("uid", uid)
    event.add("dtstamp", datetime.now(ZoneInfo("UTC")))
    event.add("dtstart", start.astimezone(ZoneInfo("UTC")))
    event.add("dtend", end.astimezone(ZoneInfo("UTC")))
    event.add("summary", title)
    event.add("sequence", sequence)
    for address in attendees:
        event.add("attendee", f"mailto:{address}")
    calendar.add_component(event)
    return str(calendar.to_ical().decode())


def moved(ics: str, uid: str, start: datetime, end: datetime) -> str:
    """The stored event with new times (and its SEQUENCE one up), everything else kept as it was."""
    from icalendar import Calendar as ICalendar

    calendar = ICalendar.from_ical(ics)
    for event in calendar.walk("VEVENT"):
        if str(event.get("UID", "")) == uid and event.get("RECURRENCE-ID") is None:
            for name in ("DTSTART", "DTEND", "DURATION", "SEQUENCE"):
                event.pop(name, None)
            event.add("dtstart", start.astimezone(ZoneInfo("UTC")))
            event.add("dtend", end.astimezone(ZoneInfo("UTC")))
            event.add("sequence", int(_sequence(ics)) + 1)
    return str(calendar.to_ical().decode())


def _sequence(ics: str) -> int:
    found = re.search(r"^SEQUENCE:(\d+)", ics, re.M)
    return int(found[1]) if found else 0


def _moment(prop: Any, zone: str) -> datetime | None:
    value = getattr(prop, "dt", None)
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=ZoneInfo(zone))
    if isinstance(value, date):
        return datetime.combine(value, time(0), ZoneInfo(zone))
    return None


def _duration(event: Any) -> timedelta:
    value = getattr(event.get("DURATION"), "dt", None)
    return value if isinstance(value, timedelta) else timedelta(0)


def _listed(value: Any) -> list[Any]:
    return list(value) if isinstance(value, list) else [value]
