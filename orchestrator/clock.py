"""The real clock (its fake, `FakeClock`, is in orchestrator/fakes/world.py)."""

from __future__ import annotations

from datetime import UTC, datetime


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)
