"""The values a model call is made of (what is asked, what came back, what a task's calls cost) and the response
cache keyed by them; agents/llm.py makes the calls."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

from redis.asyncio import Redis

from agents.prompts import Message
from agents.schemas import Schema
from memory import keys

CACHE_TTL_S = 24 * 3600


@dataclass(frozen=True)
class Raw:
    text: str
    tokens_in: int
    tokens_out: int
    cached_tokens: int = 0
    usd: float | None = 0.0
    """None: the model has no known price (counted, shown as unpriced, $0 against the budget)."""
    finish: str = "stop"
    """The server's `finish_reason`: "length" when it stopped at `max_tokens`, mid-answer."""


@dataclass(frozen=True)
class Call:
    task_id: str
    step: str
    tier: str  # "draft" (cheap) or "verify" (strong)
    model: str
    messages: list[Message]
    json_mode: bool = True
    max_tokens: int = 1000
    min_tokens: int = 0
    """When set below `max_tokens`: the least room worth asking with, where today's budget can't cover it all."""
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
    finish: str = "stop"
    room: int = 0
    """The `max_tokens` the answer was asked with (less than the step's room where today's budget said so)."""


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
