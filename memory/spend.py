"""Model spend and the hard daily budget, per local day, kept in Redis so every worker sees one total.

A call first *reserves* its worst-case cost (prompt tokens plus `max_tokens` of output at the model's price).
It is refused when spent + that estimate would pass the cap (the task pauses and the operator is asked), and
waits while calls in flight hold the rest of the cap; afterwards the reservation is swapped for the real
cost. Check and reservation are one script, so concurrent workers can't both squeeze under the cap: spend
passes the cap only when a call costs more than its own worst case — by at most that one call."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from typing import Any

from redis.asyncio import Redis

from memory import keys
from memory.metrics import MODEL
from orchestrator.ports import ModelSpend

KEEP_SECONDS = 40 * 24 * 3600
RESERVATION_S = 180.0
"""A reservation lapses after this (longer than any call with its retries): a killed worker can't hold the
budget hostage."""  # a month of days for the digest's sparkline and /budget history

# KEYS: budget hash, reservations (zset: member "<id>|<usd>", score = when it lapses).
# ARGV: base cap, estimate, key ttl, now, member, lapses at. Returns {code, spent, cap}: 1 granted, 0 over, 2 busy.
RESERVE = """
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', ARGV[4])
local reserved = 0
for _, member in ipairs(redis.call('ZRANGE', KEYS[2], 0, -1)) do
  reserved = reserved + tonumber(string.match(member, '|(.*)$'))
end
local spent = tonumber(redis.call('HGET', KEYS[1], 'spent') or '0')
local cap = tonumber(ARGV[1]) + tonumber(redis.call('HGET', KEYS[1], 'raised') or '0')
local estimate = tonumber(ARGV[2])
if spent + estimate > cap then
  return {0, tostring(spent), tostring(cap)}
end
if spent + reserved + estimate > cap then
  return {2, tostring(spent), tostring(cap)}
end
redis.call('ZADD', KEYS[2], ARGV[6], ARGV[5])
redis.call('EXPIRE', KEYS[2], ARGV[3])
return {1, tostring(spent), tostring(cap)}
"""

# KEYS: budget, spend, model metrics, reservations.
# ARGV: reservation member, actual, model, in, out, cached, hit, unpriced, date, ttl
SETTLE = """
redis.call('ZREM', KEYS[4], ARGV[1])
redis.call('HINCRBYFLOAT', KEYS[1], 'spent', ARGV[2])
redis.call('EXPIRE', KEYS[1], ARGV[10])
local m = ARGV[3]
redis.call('HINCRBYFLOAT', KEYS[2], 'usd|' .. m, ARGV[2])
redis.call('HINCRBY', KEYS[2], 'calls|' .. m, 1)
redis.call('HINCRBY', KEYS[2], 'in|' .. m, ARGV[4])
redis.call('HINCRBY', KEYS[2], 'out|' .. m, ARGV[5])
redis.call('HINCRBY', KEYS[2], 'cached|' .. m, ARGV[6])
redis.call('HINCRBY', KEYS[2], 'hits|' .. m, ARGV[7])
redis.call('HINCRBY', KEYS[2], 'unpriced|' .. m, ARGV[8])
redis.call('EXPIRE', KEYS[2], ARGV[10])
redis.call('HINCRBY', KEYS[3], 'calls|' .. m, 1)
redis.call('HINCRBY', KEYS[3], 'in|' .. m, ARGV[4])
redis.call('HINCRBY', KEYS[3], 'out|' .. m, ARGV[5])
redis.call('HINCRBY', KEYS[3], 'cached|' .. m, ARGV[6])
redis.call('HINCRBYFLOAT', KEYS[3], 'usd|' .. m, ARGV[2])
redis.call('HINCRBYFLOAT', KEYS[3], 'usd_day:' .. ARGV[9] .. '|' .. m, ARGV[2])
return 1
"""


RAISE = """
if redis.call('SET', KEYS[2], '1', 'NX', 'EX', ARGV[2]) then
  redis.call('HINCRBYFLOAT', KEYS[1], 'raised', ARGV[1])
  redis.call('EXPIRE', KEYS[1], ARGV[2])
  return 1
end
return 0
"""


@dataclass(frozen=True)
class Reservation:
    granted: bool
    spent: float
    cap: float
    estimate: float
    busy: bool = False
    member: str = ""
    """Refused only because calls in flight have reserved the rest: worth waiting for them to settle."""


@dataclass(frozen=True)
class Usage:
    model: str
    usd: float
    tokens_in: int = 0
    tokens_out: int = 0
    cached_tokens: int = 0
    cache_hit: bool = False
    priced: bool = True


class RedisSpend:
    """The `Spend` port (what /budget, /status and the digest read) and the budget the LLM client enforces."""

    def __init__(self, redis: Redis, daily_budget_usd: float = 5.0) -> None:
        self.redis, self.budget_usd = redis, daily_budget_usd
        self._reserve = redis.register_script(RESERVE)
        self._settle = redis.register_script(SETTLE)
        self._raise = redis.register_script(RAISE)

    async def reserve(self, date: str, estimate: float) -> Reservation:
        if estimate <= 0:  # free calls (offline, cache hits, unpriced models) are never refused
            return Reservation(True, 0.0, 0.0, 0.0)
        now, member = time.time(), f"{uuid.uuid4().hex}|{estimate:.10f}"
        code, spent, cap = await self._reserve(
            keys=[keys.budget(date), keys.budget(f"{date}:reserved")],
            args=[self.budget_usd, f"{estimate:.10f}", KEEP_SECONDS, now, member, now + RESERVATION_S],
        )
        return Reservation(int(code) == 1, float(spent), float(cap), estimate, int(code) == 2, member)

    def settle_on(self, client: Any, date: str, reservation: Reservation | None, usage: Usage) -> Any:
        """Swap the reservation for the real cost (None: nothing was reserved), on a pipeline that also carries
        the call's ledger line: one round trip."""
        return self._settle(
            client=client,
            keys=[keys.budget(date), keys.spend(date), MODEL, keys.budget(f"{date}:reserved")],
            args=[
                reservation.member if reservation else "",
                f"{usage.usd:.10f}",
                usage.model,
                usage.tokens_in,
                usage.tokens_out,
                usage.cached_tokens,
                int(usage.cache_hit),
                int(not usage.priced),
                date,
                KEEP_SECONDS,
            ],
        )

    async def release(self, date: str, reservation: Reservation) -> None:
        """The call failed before any tokens were billed: give the reservation back."""
        if reservation.member:
            await self.redis.zrem(keys.budget(f"{date}:reserved"), reservation.member)

    async def raise_cap(self, date: str, usd: float, once_key: str) -> bool:
        """Add an approved raise exactly once per `once_key` (the action's idempotency key)."""
        once = keys.budget(f"{date}:raise:{once_key}")
        return bool(await self._raise(keys=[keys.budget(date), once], args=[f"{usd:.6f}", KEEP_SECONDS]))

    async def day(self, date: str) -> float:
        return float(await self.redis.hget(keys.budget(date), "spent") or 0.0)

    async def cap(self, date: str) -> float:
        return self.budget_usd + float(await self.redis.hget(keys.budget(date), "raised") or 0.0)

    async def models(self, date: str) -> list[ModelSpend]:
        counts: dict[str, dict[str, float]] = {}
        for key, value in (await self.redis.hgetall(keys.spend(date))).items():
            field, _, model = str(key).partition("|")
            counts.setdefault(model, {})[field] = float(value)
        return [
            ModelSpend(
                model=model,
                usd=c.get("usd", 0.0),
                calls=int(c.get("calls", 0)),
                cache_hits=int(c.get("hits", 0)),
                unpriced=int(c.get("unpriced", 0)),
            )
            for model, c in sorted(counts.items())
        ]
