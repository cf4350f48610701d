"""Approval-time checks as the running deployment sees them. A connector here answers `unavailable()` with what
the worker published (memory/deployed.py) when it published anything for that kind, else with this process's
own view. Long-lived processes read the published view at start and again, in the background, when it is over
a second old; a job process (the worker itself) never needs to: its own view is the published one."""

from __future__ import annotations

import asyncio
import contextlib
import time

from redis.asyncio import Redis
from redis.exceptions import RedisError

from connectors.wrapped import Wrapped
from memory.deployed import published
from orchestrator.ports import Connector

STALE_S = 1.0


class DeployedView:
    def __init__(self, redis: Redis) -> None:
        self.redis = redis
        self.reasons: dict[str, str] = {}
        self.read_at: float | None = None
        self.reading: asyncio.Task[None] | None = None

    async def refresh(self) -> None:
        with contextlib.suppress(RedisError, OSError):
            self.reasons = await published(self.redis)
        self.read_at = time.monotonic()

    def reason(self, kind: str) -> str | None:
        """The running worker's reason ('' when ready), None when it said nothing about `kind`."""
        self._refresh_if_stale()
        return self.reasons.get(kind)

    def _refresh_if_stale(self) -> None:
        if self.read_at is None or time.monotonic() - self.read_at < STALE_S:
            return  # never read: a process that doesn't read it at start (a job) keeps its own view
        if self.reading is not None and not self.reading.done():
            return
        with contextlib.suppress(RuntimeError):  # no running loop: keep what was read
            self.reading = asyncio.get_running_loop().create_task(self.refresh())


class AsDeployed(Wrapped):
    """A connector whose readiness is the running deployment's; everything else is the connector's own."""

    def __init__(self, inner: Connector, view: DeployedView) -> None:
        super().__init__(inner)
        self.view = view

    def unavailable(self) -> str:
        reason = self.view.reason(self.kind)
        return self.inner.unavailable() if reason is None else reason


def as_deployed(connectors: dict[str, Connector], view: DeployedView) -> dict[str, Connector]:
    return {kind: AsDeployed(connector, view) for kind, connector in connectors.items()}
