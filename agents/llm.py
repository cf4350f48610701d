"""The LLM port: every model call Deputy makes goes through `Models.complete()`, in this order:

1. cache — a deterministic call (temperature 0) already answered today (same prompt, same schema sent or none)
   is served from Redis and costs $0;
2. budget — the call's worst-case cost is reserved against today's cap in one atomic step shared by every
   worker (memory/spend.py); if it would pass the cap, `BudgetExceeded` pauses the task instead;
3. breaker — a provider whose calls keep failing is skipped for a cool-down (connectors/breaker.py holds both
   numbers; the state is shared in Redis); meeting it raises `ModelPaused`, and the task waits for it (agents/jobs.py);
4. the call, in the shape the model takes (agents/capabilities.py: the step's JSON schema, JSON mode or neither;
   a system role or not — found out on first use, a refusal stepping down at once), a timeout and retries with
   backoff on 429/5xx; a server that can't be reached is tried again for tens of seconds (it may be restarting);
   a local server's timeout is not retried (it is still computing); then the fallback model if one is set;
5. accounting — model, tier, step, tokens (cached too) and dollars go to the ledger as a `ModelCalled` event
   for the task, and into today's per-model spend (what /budget shows). A failed attempt is a `ModelCalled` too,
   with its `error`.

The transport (agents/transports.py) is Deputy's own OpenAI-compatible client for `openai/…` models
(agents/openai_compat.py), litellm for every other provider (imported on first use: it takes seconds), or, for the
default `offline` model, the built-in model answering directly (agents/offline.py; also reachable through litellm
as `offline/deputy`)."""

from __future__ import annotations

import asyncio
import json
import logging
import random
from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import datetime
from typing import Any, Protocol

from agents import progress
from agents.calls import Call as Call
from agents.calls import Completion as Completion
from agents.calls import Meter as Meter
from agents.calls import Raw as Raw
from agents.calls import ResponseCache as ResponseCache
from agents.capabilities import Capabilities, Format, Shape
from agents.prompts import Message, fold_system
from agents.schemas import Schema, strict
from connectors.breaker import Breaker
from memory.spend import RedisSpend, Reservation, Usage
from orchestrator.errors import (
    BudgetExceeded,
    CircuitOpen,
    DraftInvalid,
    ModelError,
    ModelPaused,
    ModelPermanent,
    ModelRefused,
    ModelTimeout,
    ModelTransient,
    ModelUnavailable,
    ModelUnreachable,
)
from orchestrator.events import Event, ModelCalled

log = logging.getLogger("deputy.llm")

BACKOFF_S = 0.25
RECONNECT_S = (1.0, 2.0, 4.0, 8.0, 16.0)
"""Waits before trying a server that could not be reached again: 31 s in all, long enough for a restart."""
MAX_WAIT_S = 8.0
BUSY_WAIT_S = 0.2
BUSY_WAITS = 300  # a minute: longer than a call's timeout, so a reservation always settles or expires first


OnText = Callable[[str], Awaitable[None]]
"""Told the answer's text so far while it streams."""


class Transport(Protocol):
    cacheable: bool
    """False for the built-in model: it answers for free at once, so a cache would only add round trips."""
    remote: bool
    """Calls cross a network and can fail transiently: retries and the breaker apply."""

    @property
    def endpoint(self) -> str:
        """The API base ("" for a provider's own): what a model takes is found out per model and endpoint."""

    @property
    def local(self) -> bool:
        """A server of the operator's own: its timeout is not retried."""

    @property
    def timeout_s(self) -> float: ...
    @property
    def retries(self) -> int: ...

    async def __call__(
        self,
        model: str,
        messages: list[Message],
        *,
        json_mode: bool,
        max_tokens: int,
        schema: Schema | None = None,
        fmt: Format | None = None,
        on_text: OnText | None = None,
    ) -> Raw: ...

    def first_format(self, model: str) -> Format:
        """Where the ladder of response formats starts for this model (DEPUTY_LLM_STRUCTURED)."""

    def estimate(self, model: str, messages: list[Message], max_tokens: int) -> float:
        """Worst-case dollars for the call: what the budget reserves."""

    def sends_schema(self, model: str) -> bool:
        """Whether this model is sent a step's JSON schema; if not, the prompt alone describes the shape."""


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
        capabilities: Capabilities | None = None,
    ) -> None:
        self.transport, self.spend, self.cache, self.account = transport, spend, cache, account
        self.today, self.now, self.breaker, self.fallback, self.sleep = today, now, breaker, fallback, sleep
        self.shadow = shadow
        """A shadow run's calls (`deputy shadow`): budgeted and accounted like any, marked `shadow` in the ledger."""
        self.capabilities = capabilities

    async def complete(self, call: Call) -> Completion:
        cache = self.cache if self.transport(call.model).cacheable else None
        shape = await self.shape(call.model)
        if cache is not None and (hit := await cache.get(call, self._sent(call, shape))) is not None:
            await self._record(call, call.model, Raw(hit, 0, 0, 0, 0.0), None, shape, cache_hit=True)
            return Completion(hit, call.model, 0.0, cache_hit=True)
        try:
            return await self._call(call, call.model)
        except ModelUnavailable as err:
            if not self.fallback or self.fallback == call.model:
                raise
            done = await self._call(call, self.fallback)
            why = f"{call.model} is failing ({err}); drafted with the fallback {self.fallback}"
            return replace(done, degraded=why)

    async def shape(self, model: str) -> Shape:
        """What the model takes, as found out so far (or where its ladder starts)."""
        transport = self.transport(model)
        if not transport.remote or self.capabilities is None:
            return Shape(transport.first_format(model))
        start = transport.first_format(model)
        found = await self.capabilities.get(f"{model}#{start}", transport.endpoint)
        return found or Shape(start)

    async def _call(self, call: Call, model: str) -> Completion:
        transport, date = self.transport(model), self.today()
        call = await self._fit(call, model, transport, date)
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
            raw, shape = await self._attempts(call, model, transport)
        except BaseException:
            await self.spend.release(date, reservation)
            raise
        await self._record(call, model, raw, reservation, shape)
        if self.cache is not None and transport.cacheable and raw.finish != "length":
            await self.cache.put(call, raw.text, self._sent(call, shape))
        priced = raw.usd is not None
        return Completion(raw.text, model, raw.usd or 0.0, priced=priced, finish=raw.finish, room=call.max_tokens)

    async def _fit(self, call: Call, model: str, transport: Transport, date: str) -> Call:
        """A draft's full room (its fields at their longest) where today's budget covers it; else what it does cover,
        down to the call's `min_tokens`. The reservation that follows is for what is asked."""
        if not call.min_tokens or call.min_tokens >= call.max_tokens:
            return call
        most = transport.estimate(model, call.messages, call.max_tokens)
        least = transport.estimate(model, call.messages, call.min_tokens)
        if most <= 0:
            return call
        left = await self.spend.cap(date) - await self.spend.day(date)
        if left >= most:
            return call
        per_token = (most - least) / (call.max_tokens - call.min_tokens)
        room = call.min_tokens + int(max(0.0, left - least) / per_token) if per_token > 0 else call.min_tokens
        return replace(call, max_tokens=max(call.min_tokens, room))

    def _sent(self, call: Call, shape: Shape) -> dict[str, Any] | None:
        """The JSON schema the call goes with in this shape, or None: the prompt describes the answer."""
        if call.schema is None or shape.format != "json_schema":
            return None
        return strict(call.schema)

    async def _attempts(self, call: Call, model: str, transport: Transport) -> tuple[Raw, Shape]:
        shape = await self.shape(model)
        if not transport.remote:
            try:
                return await _send(transport, model, call, shape), shape
            except (ModelTransient, ModelPermanent) as err:
                raise ModelUnavailable(f"{model}: {err}") from None
        breaker = self.breaker(provider(model))
        try:
            had_failures = await breaker.check()
        except CircuitOpen as err:  # the task waits for it (agents/jobs.py) unless a fallback drafts meanwhile
            raise ModelPaused(str(err), err.open_until or breaker.clock() + breaker.cooldown_s) from None
        try:
            return await self._retried(call, model, transport, breaker, shape, had_failures)
        finally:
            if had_failures:  # the probe: a success cleared the record; else let the next call probe
                await breaker.release()

    async def _retried(
        self, call: Call, model: str, transport: Transport, breaker: Breaker, shape: Shape, had_failures: bool
    ) -> tuple[Raw, Shape]:
        failures, unreachable = 0, 0
        while True:
            await self._idle(transport)
            try:
                raw = await _send(transport, model, call, shape)
            except asyncio.CancelledError:  # the task was stopped: the call is abandoned, and still on the ledger
                await self._record(
                    call, model, Raw("", 0, 0, 0, 0.0), None, shape, error="abandoned: the task was stopped"
                )
                raise
            except ModelError as err:
                await self._record(call, model, Raw("", 0, 0, 0, 0.0), None, shape, error=str(err))
                if isinstance(err, ModelRefused):
                    shape = await self._step_down(model, transport, shape, err)
                    continue
                if isinstance(err, ModelUnreachable) and unreachable < len(RECONNECT_S):
                    tries = f"{unreachable + 2}/{len(RECONNECT_S) + 1}"
                    await progress.current().note(f"model server not answering, trying again ({tries})")
                    await self.sleep(RECONNECT_S[unreachable])
                    unreachable += 1
                    continue
                if not isinstance(err, ModelTransient):
                    raise ModelUnavailable(f"{model}: {err}") from None
                failures += 1
                await self._transient(model, transport, breaker, err, failures)
            else:
                if had_failures or failures or unreachable:
                    await breaker.succeeded()
                return raw, shape

    async def _transient(
        self, model: str, transport: Transport, breaker: Breaker, err: ModelTransient, failures: int
    ) -> None:
        """Count it; give up (saying why) or wait before the next attempt."""
        if await breaker.failed():
            raise ModelPaused(
                f"{model} failed {breaker.threshold} times in a row ({err}); pausing it for {breaker.cooldown_s:.0f} s",
                breaker.clock() + breaker.cooldown_s,
            ) from None
        if isinstance(err, ModelTimeout) and transport.local:
            if self.capabilities is not None:
                await self.capabilities.busy(transport.endpoint, transport.timeout_s)
            raise ModelUnavailable(
                f"{err}: no answer within {transport.timeout_s:.0f} s (DEPUTY_LLM_TIMEOUT_S); not asked again while "
                "the server is still working on it"
            ) from None
        if isinstance(err, ModelUnreachable):
            raise ModelUnavailable(f"{err}, for {sum(RECONNECT_S):.0f} s") from None
        if failures > transport.retries:
            raise ModelUnavailable(f"{model} failed {failures} times ({err})") from None
        wait = err.retry_after if err.retry_after is not None else BACKOFF_S * 2 ** (failures - 1)
        log.info("%s: %s; retrying in %.2f s", model, err, wait)
        await progress.current().note(f"the model failed, trying again ({failures + 1}/{transport.retries + 1})")
        await self.sleep(min(MAX_WAIT_S, wait) * random.uniform(1.0, 1.2))

    async def _idle(self, transport: Transport) -> None:
        """Don't stack a request on a one-slot local server behind one it is still computing for a call that timed
        out: wait until that is likely done (at most the timeout), so this call's clock starts when it is free."""
        if not transport.local or self.capabilities is None:
            return
        for _ in range(int(transport.timeout_s) + 1):
            left = await self.capabilities.busy_for(transport.endpoint)
            if left <= 0:
                return
            await self.sleep(min(left, 1.0))

    async def _step_down(self, model: str, transport: Transport, shape: Shape, err: ModelRefused) -> Shape:
        """A capability answer: ask again at once in the next shape down, and remember it for every worker."""
        lower = replace(shape, system=False) if err.what == "system" and shape.system else None
        lower = lower or (shape.down() if err.what == "format" else None)
        if lower is None:
            raise ModelUnavailable(f"{model} refused every shape of request Deputy can send ({err})") from None
        log.info("%s takes %s, not %s: asking in that shape from now on", model, lower, shape)
        if self.capabilities is not None:
            await self.capabilities.put(f"{model}#{transport.first_format(model)}", transport.endpoint, lower)
        return lower

    async def _record(
        self,
        call: Call,
        model: str,
        raw: Raw,
        reservation: Reservation | None,
        shape: Shape,
        *,
        cache_hit: bool = False,
        error: str = "",
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
            "structured": self._sent(call, shape) is not None and self.transport(model).remote,
            "max_tokens": call.max_tokens,
            **({"finish": raw.finish} if raw.finish != "stop" else {}),
            **({"error": error} if error else {}),
            **({"shadow": True} if self.shadow else {}),
        }
        summary = (
            f"{call.step} with {model}"
            + (" (from cache)" if cache_hit else "")
            + (" (failed)" if error else "")
            + (" (shadow)" if self.shadow else "")
        )
        event = ModelCalled(at=self.now(), task_id=call.task_id, cost_usd=usage.usd, summary=summary, detail=detail)
        await self.account(self.today(), reservation, usage, event)  # spend and ledger line together


def _send(transport: Transport, model: str, call: Call, shape: Shape) -> Awaitable[Raw]:
    """One attempt, in the shape the model takes: its response format, and the instructions folded into the first
    user message for a template without a system role."""
    messages = call.messages if shape.system else fold_system(call.messages)
    fmt: Format = shape.format if call.json_mode else "text"
    on_text = progress.current().listener(call.step)  # streamed where someone watches the draft grow
    return transport(
        model,
        messages,
        json_mode=call.json_mode,
        max_tokens=call.max_tokens,
        schema=call.schema,
        fmt=fmt,
        on_text=on_text,
    )


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
