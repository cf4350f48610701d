"""A circuit breaker per connector, kept in Redis so every worker sees the same state: after `threshold`
transient failures in a row the connector is paused for `cooldown_s`; the failure that opens it says so
(once), calls while open fail fast, and the first success closes it."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from redis.asyncio import Redis

from memory import keys
from orchestrator.errors import CircuitOpen, TransientConnectorError
from orchestrator.kinds import Preview, Traits
from orchestrator.ports import Connector, HandOver, no_hand_over

THRESHOLD = 5  # the one definition: connectors and model providers (agents/llm.py reads the breaker's) alike
COOLDOWN_S = 60.0

# Count a failure and, at the threshold, open the circuit: returns 1 only for the call that opened it.
FAIL = """
local failures = redis.call('HINCRBY', KEYS[1], 'failures', 1)
if failures >= tonumber(ARGV[1]) and redis.call('HEXISTS', KEYS[1], 'open_until') == 0 then
  redis.call('HSET', KEYS[1], 'open_until', ARGV[2])
  return 1
end
return 0
"""


class Breaker:
    def __init__(
        self,
        redis: Redis,
        name: str,
        *,
        threshold: int = THRESHOLD,
        cooldown_s: float = COOLDOWN_S,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.redis, self.key = redis, f"{keys.PREFIX}:circuit:{name}"
        self.name, self.threshold, self.cooldown_s, self.clock = name, threshold, cooldown_s, clock
        self._fail = redis.register_script(FAIL)

    async def check(self) -> bool:
        """Fail fast while open (after the cool-down calls are let through to probe); True if failures are
        on record, so a success knows it has something to clear."""
        state = await self.redis.hgetall(self.key)
        open_until = state.get("open_until")
        if open_until and self.clock() < float(open_until):
            raise CircuitOpen(
                f"{self.name} is paused after {self.threshold} failures in a row; "
                f"retrying after {time.strftime('%H:%M:%S', time.localtime(float(open_until)))}",
                open_until=float(open_until),
            )
        return bool(state)

    async def failed(self) -> bool:
        """Record a failure; True for the one that opened the circuit."""
        return bool(await self._fail(keys=[self.key], args=[self.threshold, self.clock() + self.cooldown_s]))

    async def succeeded(self) -> None:
        await self.redis.delete(self.key)


class Guarded:
    """A connector behind its breaker; everything but `apply` passes straight through."""

    def __init__(self, inner: Connector, breaker: Breaker) -> None:
        self.inner, self.breaker = inner, breaker
        self.kind, self.resend_safe = inner.kind, inner.resend_safe

    @property
    def traits(self) -> Traits:
        return self.inner.traits

    def validate(self, fields: dict[str, Any]) -> dict[str, Any]:
        return self.inner.validate(fields)

    def preview(self, fields: dict[str, Any]) -> Preview:
        return self.inner.preview(fields)

    def unavailable(self) -> str:
        return self.inner.unavailable()

    async def apply(self, fields: dict[str, Any], idempotency_key: str, handing_over: HandOver = no_hand_over) -> str:
        had_failures = await self.breaker.check()
        try:
            outcome = await self.inner.apply(fields, idempotency_key, handing_over)
        except CircuitOpen:
            raise
        except TransientConnectorError as err:
            if await self.breaker.failed():
                raise CircuitOpen(
                    f"{self.kind} failed {self.breaker.threshold} times in a row ({err}); "
                    f"pausing it for {self.breaker.cooldown_s:.0f} s",
                    just_opened=True,
                    open_until=self.breaker.clock() + self.breaker.cooldown_s,
                ) from err
            raise
        if had_failures:
            await self.breaker.succeeded()
        return outcome
