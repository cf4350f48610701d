"""A circuit breaker per connector (and per model provider), kept in Redis so every worker sees the same state.

Closed: calls go through; `threshold` transient failures in a row open it, and the failure that opens it says so.
Open: calls fail fast for `cooldown_s`. Half-open (the cool-down is over): one call, the probe, goes through
under a lease (`probe_s`: if its worker dies, another call probes after that); the others fail fast while it is in
flight. The probe's failure opens the circuit again at once; its success (any success) closes it."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from redis.asyncio import Redis

from connectors.wrapped import Wrapped
from memory import keys
from orchestrator.errors import CircuitOpen, TransientConnectorError
from orchestrator.ports import Connector, HandOver, no_hand_over

THRESHOLD = 5  # the one definition: connectors and model providers (agents/llm.py reads the breaker's) alike
COOLDOWN_S = 60.0
PROBE_S = 180.0
"""How long a probe holds the half-open circuit: longer than a call with its retries, so a slow probe is not
doubled; short enough that a probe whose worker died does not keep the circuit shut for long."""

# Count a failure. Closed: open at the threshold. Half-open (open_until passed): the probe failed, open again at
# once. Still open (a call that started before it opened): nothing more. Returns 1 for the failure that (re)opened it.
FAIL = """
local failures = redis.call('HINCRBY', KEYS[1], 'failures', 1)
local open_until = redis.call('HGET', KEYS[1], 'open_until')
local now = tonumber(ARGV[3])
if open_until and now < tonumber(open_until) then
  return 0
end
if open_until or failures >= tonumber(ARGV[1]) then
  redis.call('HSET', KEYS[1], 'open_until', now + tonumber(ARGV[2]))
  redis.call('HDEL', KEYS[1], 'probe_until')
  return 1
end
return 0
"""

# Let a call through or not: 0 no failures on record, 1 closed with failures, 2 this call is the half-open probe,
# -1 open (cooling down), -2 half-open with a probe in flight. The second value: until when it stays that way.
CHECK = """
local state = redis.call('HMGET', KEYS[1], 'failures', 'open_until', 'probe_until')
local now = tonumber(ARGV[1])
if not state[2] then
  return {state[1] and 1 or 0, ''}
end
if now < tonumber(state[2]) then
  return {-1, state[2]}
end
if state[3] and now < tonumber(state[3]) then
  return {-2, state[3]}
end
redis.call('HSET', KEYS[1], 'probe_until', now + tonumber(ARGV[2]))
return {2, ''}
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
        probe_s: float = PROBE_S,
    ) -> None:
        self.redis, self.key = redis, f"{keys.PREFIX}:circuit:{name}"
        self.name, self.threshold, self.cooldown_s, self.clock = name, threshold, cooldown_s, clock
        self.probe_s = probe_s
        self._fail, self._check = redis.register_script(FAIL), redis.register_script(CHECK)

    async def check(self) -> bool:
        """Fail fast while open or while another call probes; True if failures are on record (the probe among
        them), so a success knows it has something to clear."""
        code, until = await self._check(keys=[self.key], args=[self.clock(), self.probe_s])
        if int(code) == -1:
            why = f"{self.threshold} failures in a row; retrying after {_hms(until)}"
            raise CircuitOpen(f"{self.name} is paused after {why}", open_until=_stamp(until))
        if int(code) == -2:
            why = f"one call is trying it again (until {_hms(until)} at the latest)"
            raise CircuitOpen(f"{self.name} is paused: {why}", open_until=_stamp(until))
        return int(code) != 0

    async def failed(self) -> bool:
        """Record a failure; True for the one that opened the circuit (or reopened it: a failed probe)."""
        args = [self.threshold, self.cooldown_s, self.clock()]
        return bool(await self._fail(keys=[self.key], args=args))

    async def succeeded(self) -> None:
        await self.redis.delete(self.key)

    async def release(self) -> None:
        """A probe that ended neither way (a permanent error, a cancelled call): let the next call probe."""
        await self.redis.hdel(self.key, "probe_until")


def _stamp(at: bytes | str) -> float:
    return float(at.decode() if isinstance(at, bytes) else at)


def _hms(at: bytes | str) -> str:
    return time.strftime("%H:%M:%S", time.localtime(_stamp(at)))


class Guarded(Wrapped):
    """A connector behind its breaker; everything but `apply` passes straight through."""

    def __init__(self, inner: Connector, breaker: Breaker) -> None:
        super().__init__(inner)
        self.breaker = breaker

    async def apply(self, fields: dict[str, Any], idempotency_key: str, handing_over: HandOver = no_hand_over) -> str:
        had_failures = await self.breaker.check()
        try:
            outcome = await self.inner.apply(fields, idempotency_key, handing_over)
        except CircuitOpen:
            raise
        except TransientConnectorError as err:
            await self._failed(err)
            raise
        except BaseException:
            if had_failures:
                await self.breaker.release()
            raise
        if had_failures:
            await self.breaker.succeeded()
        return outcome

    async def _failed(self, err: TransientConnectorError) -> None:
        """Count it; the failure that (re)opens the circuit is said as such, once."""
        if await self.breaker.failed():
            raise CircuitOpen(
                f"{self.kind} failed {self.breaker.threshold} times in a row ({err}); "
                f"pausing it for {self.breaker.cooldown_s:.0f} s",
                just_opened=True,
                open_until=self.breaker.clock() + self.breaker.cooldown_s,
            ) from err
