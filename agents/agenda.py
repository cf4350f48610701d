"""What the calendar adds to a draft, for playbooks that ask for it (`calendar: true`): the coming week's events
as lines of the prompt's memory block (what a model — and the offline model — books around, moves or cancels,
and answers "what's on tomorrow?" from), and, on a booking's card, the events it would overlap, read from the
calendar by code, never the model's word. Event text is untrusted data, quoted like memory."""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from memory.records import MemoryRecord, Recalled, Source
from orchestrator.agenda import Agenda, dated, day_bounds, overlapping, record
from orchestrator.errors import ConnectorError
from orchestrator.model import Draft, ProposalDraft

log = logging.getLogger("deputy.agent")
KIND = "calendar.event"
DAYS = 8
"""Today and the week after it: enough for "on Tuesday", "tomorrow", "move my call with Jane"."""
SOURCE = Source("calendar")


async def records(agenda: Agenda | None, now: datetime, zone: str) -> list[Recalled]:
    """The events from the start of today for `DAYS` days, one memory line each; a calendar that can't be read
    (or none) is one line saying so, so an answer never says "nothing on" when it could not look."""
    if agenda is None:
        return [_line("e0", "Calendar: none is set up (DEPUTY_CALDAV_URL)")]
    start = day_bounds(now.astimezone(ZoneInfo(zone)).date(), zone)[0]
    try:
        entries = await agenda.between(start, start + timedelta(days=DAYS))
    except ConnectorError as err:
        log.warning("the calendar could not be read for a draft: %s", err)
        return [_line("e0", f"Calendar: could not be read ({err})")]
    if not entries:
        return [_line("e0", f"Calendar: no events from {start:%a %Y-%m-%d} for {DAYS} days")]
    return [_line(f"e{n}", record(e, zone)) for n, e in enumerate(entries, 1)]


async def warned(agenda: Agenda | None, draft: Draft, zone: str) -> Draft:
    """A booking or a move with a line under its headline for each event it would overlap (or for a calendar
    that could not be checked)."""
    if agenda is None or not isinstance(draft, ProposalDraft):
        return draft
    lines = [w for kind, fields in draft.actions if kind == KIND for w in await _clashes(agenda, fields, zone)]
    if not lines:
        return draft
    head, *rest = draft.summary.split("\n")
    return dataclasses.replace(draft, summary="\n".join([head, *lines, *rest]))


async def _clashes(agenda: Agenda, fields: dict[str, Any], zone: str) -> Sequence[str]:
    if str(fields.get("op", "")).lower() not in ("create", "move"):
        return []
    try:
        start = datetime.fromisoformat(str(fields["start"])).replace(tzinfo=ZoneInfo(zone))
        end = start + timedelta(minutes=int(str(fields.get("minutes", "30"))))
    except (KeyError, ValueError):
        return []  # the card's own validation says what is wrong with it
    try:
        found = overlapping(await agenda.between(start, end), start, end, skip=str(fields.get("event", "")))
    except ConnectorError as err:
        return [f"⚠ Couldn't check the calendar for overlaps: {err}"]
    return [f"⚠ Overlaps: {dated(e, zone)}" for e in found[:3]]


def _line(record_id: str, text: str) -> Recalled:
    return Recalled(MemoryRecord(record_id, "event", text, SOURCE), 1.0)
