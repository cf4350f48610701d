"""`task.later`: run a request at a later time — drafted then as a new task in the same chat, with its own card — or,
for a plain reminder, say it then. Applying it only records the request under its idempotency key (a repeat
changes nothing, so it is safe to re-send); the scheduler fires it once (orchestrator/handlers/later.py)."""

from __future__ import annotations

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

    def _time(self, value: Any) -> datetime:
        """An ISO time; without an offset it is the operator's local time (DEPUTY_TIMEZONE)."""
        try:
            at = datetime.fromisoformat(str(value).strip())
        except ValueError:
            raise BadRequest(f"{value!r} is not a time; use e.g. 2026-12-04T09:00.") from None
        return at if at.tzinfo else at.replace(tzinfo=ZoneInfo(self.timezone))

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
