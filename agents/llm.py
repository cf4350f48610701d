"""The LLM port: every model call Deputy makes goes through `Models.complete()`, in this order:

1. cache — a deterministic call (temperature 0) already answered today (same prompt, same schema sent or none)
   is served from Redis and costs $0;
2. budget — the call's worst-case cost is reserved against today's cap in one atomic step shared by every
   worker (memory/spend.py); if it would pass the cap, `BudgetExceeded` pauses the task instead;
3. breaker — a provider whose calls keep failing is skipped for a cool-down (connectors/breaker.py holds both
   numbers; the state is shared in Redis);
4. the call, with the step's JSON schema where the model takes one (agents/schemas.py), a timeout and retries
   with backoff on 429/5xx/timeouts, then the fallback model if one is set;
5. accounting — model, tier, step, tokens (cached too) and dollars go to the ledger as a `ModelCalled` event
   for the task, and into today's per-model spend (what /budget shows).

The transport is litellm (imported on first use: it takes seconds) or, for the default `offline` model, the
built-in model answering directly (agents/offline.py; also reachable through litellm as `offline/deputy`)."""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from redis.asyncio import Redis

from agents.prompts import Message
from agents.schemas import Schema, strict
from connectors.breaker import Breaker
from memory import keys
from memory.spend import RedisSpend, Reservation, Usage
from orchestrator.errors import (
    BudgetExceeded,
    CircuitOpen,
    DraftInvalid,
    ModelPermanent,
    ModelTransient,
    ModelUnavailable,
)
from orchestrator.events import Event, ModelCalled

log = logging.getLogger("deputy.llm")

ATTEMPTS = 3
BACKOFF_S = 0.25
MAX_WAIT_S = 8.0
CACHE_TTL_S = 24 * 3600
BUSY_WAIT_S = 0.2
BUSY_WAITS = 300  # a minute: longer than a call's timeout, so a reservation always settles or expires first


@dataclass(frozen=True)
class Raw:
    text: str
    tokens_in: int
    tokens_out: int
    cached_tokens: int = 0
    usd: float | None = 0.0
    """None: the model has no known price (counted, shown as unpriced, $0 against the budget)."""


class Transport(Protocol):
    cacheable: bool
    """False for the built-in model: it answers for free at once, so a cache would only add round trips."""
    remote: bool
    """Calls cross a network and can fail transiently: retries and the breaker apply."""

    async def __call__(
        self, model: str, messages: list[Message], *, json_mode: bool, max_tokens: int, schema: Schema | None = None
    ) -> Raw: ...
    def estimate(self, model: str, messages: list[Message], max_tokens: int) -> float:
        """Worst-case dollars for the call: what the budget reserves."""

    def sends_schema(self, model: str) -> bool:
        """Whether this model is sent a step's JSON schema; if not, the prompt alone describes the shape."""


@dataclass(frozen=True)
class Call:
    task_id: str
    step: str
    tier: str  # "draft" (cheap) or "verify" (strong)
    model: str
    messages: list[Message]
    json_mode: bool = True
    max_tokens: int = 1000
    schema: Schema | None = None
    """The step's answer shape, sent as a JSON schema to models that take one (agents/schemas.py)."""


@dataclass(frozen=True)
class Completion:
    text: str
    model: str
    usd: float
    priced: bool = True
    cache_hit: bool = False
    degraded: str = ""


@dataclass
class Meter:
    """What one task's calls cost, for its card."""

    usd: float = 0.0
    unpriced: int = 0
    notes: list[str] = field(default_factory=list)

    def add(self, done: Completion) -> None:
        self.usd = round(self.usd + done.usd, 8)
        self.unpriced += 0 if done.priced else 1
        if done.degraded and done.degraded not in self.notes:
            self.notes.append(done.degraded)


class ResponseCache:
    """Deterministic calls only. Our own, in Redis: shared by all workers, and litellm's cache crashes on a
    plain install in the releases we use (LIBRARY-NOTES)."""

    def __init__(self, redis: Redis, ttl_s: int = CACHE_TTL_S, *, scope: str = "") -> None:
        self.redis, self.ttl_s, self.scope = redis, ttl_s, scope

    def key(self, call: Call, sent: dict[str, Any] | None = None) -> str:
        """`sent`: the JSON schema the call went with, if any. The same prompt with a schema, without one or with
        another may be answered differently, so each is its own entry."""
        parts: list[Any] = [self.scope, call.model, call.messages, call.json_mode, call.max_tokens]
        blob = json.dumps(parts + ([sent] if sent is not None else []), sort_keys=True)
        return keys.llm(f"cache:{hashlib.sha256(blob.encode()).hexdigest()}")

    async def get(self, call: Call, sent: dict[str, Any] | None = None) -> str | None:
        value = await self.redis.get(self.key(call, sent))
        return str(value) if value is not None else None

    async def put(self, call: Call, text: str, sent: dict[str, Any] | None = None) -> None:
        await self.redis.set(self.key(call, sent), text, ex=self.ttl_s)


class Models:
    def __init__(
        self,
        *,
        transport: Callable[[str], Transport],
        spend: RedisSpend,
        cache: ResponseCache | None,
        account: Callable[[str, Reservation | None, Usage, Event], Awaitable[None]],
        today: Callable[[], str],
        now: Callable[[], datetime],
        breaker: Callable[[str], Breaker],
        fallback: str | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        shadow: bool = False,
    ) -> None:
        self.transport, self.spend, self.cache, self.account = transport, spend, cache, account
        self.today, self.now, self.breaker, self.fallback, self.sleep = today, now, breaker, fallback, sleep
        self.shadow = shadow
        """A shadow run's calls (`deputy shadow`): budgeted and accounted like any, marked `shadow` in the ledger."""

    async def complete(self, call: Call) -> Completion:
        cache = self.cache if self.transport(call.model).cacheable else None
        if cache is not None and (hit := await cache.get(call, self._sent(call))) is not None:
            await self._record(call, call.model, Raw(hit, 0, 0, 0, 0.0), None, cache_hit=True)
            return Completion(hit, call.model, 0.0, cache_hit=True)
        try:
            return await self._call(call, call.model)
        except ModelUnavailable as err:
            if not self.fallback or self.fallback == call.model:
                raise
            done = await self._call(call, self.fallback)
            why = f"{call.model} is failing ({err}); drafted with the fallback {self.fallback}"
            return Completion(done.text, done.model, done.usd, done.priced, done.cache_hit, degraded=why)

    async def _call(self, call: Call, model: str) -> Completion:
        transport, date = self.transport(model), self.today()
        estimate = transport.estimate(model, call.messages, call.max_tokens)
        reservation = await self.spend.reserve(date, estimate)
        for _ in range(BUSY_WAITS):
            if not reservation.busy:
                break
            await self.sleep(BUSY_WAIT_S)  # calls in flight hold the rest of the budget: see what they spend
            reservation = await self.spend.reserve(date, estimate)
        if not reservation.granted:
            raise BudgetExceeded(reservation.spent, reservation.cap, date)
        try:
            raw = await self._attempts(call, model, transport)
        except BaseException:
            await self.spend.release(date, reservation)
            raise
        await self._record(call, model, raw, reservation)
        if self.cache is not None and transport.cacheable:
            await self.cache.put(call, raw.text, self._sent(call))
        return Completion(raw.text, model, raw.usd or 0.0, priced=raw.usd is not None)

    def _sent(self, call: Call, model: str | None = None) -> dict[str, Any] | None:
        """The JSON schema the call goes to `model` (its own by default) with, or None: the prompt describes it."""
        model = model or call.model
        if call.schema is None or not self.transport(model).sends_schema(model):
            return None
        return strict(call.schema)

    async def _attempts(self, call: Call, model: str, transport: Transport) -> Raw:
        if not transport.remote:
            try:
                return await _send(transport, model, call)
            except (ModelTransient, ModelPermanent) as err:
                raise ModelUnavailable(f"{model}: {err}") from None
        breaker = self.breaker(provider(model))
        try:
            had_failures = await breaker.check()
        except CircuitOpen as err:
            raise ModelUnavailable(str(err)) from None
        try:
            return await self._retried(call, model, transport, breaker, had_failures)
        finally:
            if had_failures:  # a probe that ended neither way (cancelled, refused for good): the next call probes
                await breaker.release()

    async def _retried(self, call: Call, model: str, transport: Transport, breaker: Breaker, had_failures: bool) -> Raw:
        for attempt in range(ATTEMPTS):
            try:
                raw = await _send(transport, model, call)
            except ModelTransient as err:
                if await breaker.failed():
                    raise ModelUnavailable(
                        f"{model} failed {breaker.threshold} times in a row ({err}); "
                        f"pausing it for {breaker.cooldown_s:.0f} s"
                    ) from None
                if attempt == ATTEMPTS - 1:
                    raise ModelUnavailable(f"{model} failed {ATTEMPTS} times ({err})") from None
                wait = err.retry_after if err.retry_after is not None else BACKOFF_S * 2**attempt
                log.warning("%s: %s; retrying in %.2f s", model, err, wait)
                await self.sleep(min(MAX_WAIT_S, wait) * random.uniform(1.0, 1.2))
            except ModelPermanent as err:
                raise ModelUnavailable(f"{model}: {err}") from None
            else:
                if had_failures:
                    await breaker.succeeded()
                return raw
        raise AssertionError("unreachable")

    async def _record(
        self, call: Call, model: str, raw: Raw, reservation: Reservation | None, *, cache_hit: bool = False
    ) -> None:
        priced = raw.usd is not None
        usage = Usage(model, raw.usd or 0.0, raw.tokens_in, raw.tokens_out, raw.cached_tokens, cache_hit, priced)
        detail = {
            "model": model,
            "step": call.step,
            "tier": call.tier,
            "tokens_in": raw.tokens_in,
            "tokens_out": raw.tokens_out,
            "cached_tokens": raw.cached_tokens,
            "cache_hit": cache_hit,
            "priced": priced,
            "structured": self._sent(call, model) is not None,
            **({"shadow": True} if self.shadow else {}),
        }
        summary = (
            f"{call.step} with {model}" + (" (from cache)" if cache_hit else "") + (" (shadow)" if self.shadow else "")
        )
        event = ModelCalled(at=self.now(), task_id=call.task_id, cost_usd=usage.usd, summary=summary, detail=detail)
        await self.account(self.today(), reservation, usage, event)  # spend and ledger line together


def _send(transport: Transport, model: str, call: Call) -> Awaitable[Raw]:
    """One attempt; the transport decides whether the step's schema goes with it (`sends_schema`)."""
    return transport(model, call.messages, json_mode=call.json_mode, max_tokens=call.max_tokens, schema=call.schema)


def provider(model: str) -> str:
    """Whose servers a model runs on (the breaker's unit): litellm's prefix; bare names are OpenAI's."""
    return model.split("/", 1)[0] if "/" in model else "openai"


def parse_json(text: str) -> Any:
    """The JSON object in a model's answer (tolerating a ```json fence some models add)."""
    stripped = text.strip()
    if stripped.startswith("```"):
        stripped = stripped.strip("`")
        stripped = stripped[4:] if stripped.lower().startswith("json") else stripped
    try:
        return json.loads(stripped)
    except json.JSONDecodeError as err:
        raise DraftInvalid(f"the answer is not valid JSON ({err.msg} at character {err.pos})") from None
