"""What a model behind an endpoint takes, found out on first use and remembered in Redis (so every worker knows).

Structured answers go down a ladder: `json_schema` (the step's schema shapes the answer), `json_object` (JSON
mode, the prompt describes the fields), `text` (nothing: the prompt alone asks for JSON). A refusal (such as
llama-cpp-python's 500 on `json_schema`) is a capability answer: Deputy steps down and asks again at once, and the
answer is validated the same way on every rung. A chat template with no system role gets the instructions folded
into the first user message. `deputy doctor` reads what was found and names the setting that matches it."""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import Literal

from redis.asyncio import Redis

from memory import keys

Format = Literal["json_schema", "json_object", "text"]
LADDER: tuple[Format, ...] = ("json_schema", "json_object", "text")
TTL_S = 7 * 24 * 3600
"""Found out again after a week: servers get upgraded, models swapped under the same name."""

_FORMAT_REFUSED = re.compile(
    r"response_format|json_schema|json_object|Input should be 'text'|grammar|structured output", re.I
)
_NO_SYSTEM = re.compile(r"system role|system messages? (?:is |are )?not supported", re.I)


@dataclass(frozen=True)
class Shape:
    format: Format
    system: bool = True

    def down(self) -> Shape | None:
        """The next rung, or None at the bottom."""
        at = LADDER.index(self.format)
        return replace(self, format=LADDER[at + 1]) if at + 1 < len(LADDER) else None


def refusal(message: str) -> str:
    """What a server's error says it can't take: "format", "system", or "" (an ordinary error)."""
    if _NO_SYSTEM.search(message):
        return "system"
    return "format" if _FORMAT_REFUSED.search(message) else ""


class Capabilities:
    def __init__(self, redis: Redis) -> None:
        self.redis = redis
        self.known: dict[str, Shape] = {}

    async def get(self, model: str, endpoint: str) -> Shape | None:
        key = _key(model, endpoint)
        if key not in self.known:
            found = await self.redis.hgetall(key)
            fmt = next((rung for rung in LADDER if rung == found.get("format")), None)
            if fmt is not None:
                self.known[key] = Shape(fmt, found.get("system", "yes") == "yes")
        return self.known.get(key)

    async def put(self, model: str, endpoint: str, shape: Shape) -> None:
        key = _key(model, endpoint)
        self.known[key] = shape
        await self.redis.hset(key, mapping={"format": shape.format, "system": "yes" if shape.system else "no"})
        await self.redis.expire(key, TTL_S)

    async def busy(self, endpoint: str, seconds: float) -> None:
        """A request to this server was abandoned (timed out): it may compute it for about that long still."""
        await self.redis.set(keys.llm(f"busy:{endpoint}"), "1", px=max(1, int(seconds * 1000)))

    async def busy_for(self, endpoint: str) -> float:
        """Seconds left before the server is likely done with an abandoned request (0: not known to be busy)."""
        left = await self.redis.pttl(keys.llm(f"busy:{endpoint}"))
        return max(0.0, left / 1000)


def _key(model: str, endpoint: str) -> str:
    return keys.llm(f"takes:{model}@{endpoint}")
