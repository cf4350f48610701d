"""Facts the operator asked Deputy to remember, with their source, and a small lexical recall.
(Semantic recall and supersession arrive with the memory issue; the port stays the same.)"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from datetime import UTC, datetime

from redis.asyncio import Redis

FACTS = "deputy:facts"
_WORD = re.compile(r"[a-z0-9]+")
STOP = frozenset(
    [
        "a",
        "an",
        "the",
        "is",
        "are",
        "was",
        "of",
        "to",
        "for",
        "and",
        "or",
        "in",
        "on",
        "at",
        "what",
        "who",
        "whom",
        "when",
        "where",
        "how",
        "do",
        "does",
        "did",
        "my",
        "our",
        "your",
        "with",
        "about",
        "i",
        "me",
        "we",
        "you",
        "it",
        "s",
    ]
)


def terms(text: str) -> set[str]:
    return {w for w in _WORD.findall(text.lower()) if w not in STOP}


class RedisFacts:
    def __init__(self, redis: Redis) -> None:
        self.redis = redis

    async def remember(self, text: str, *, source: str) -> str:
        number = await self.redis.incr(f"{FACTS}:seq")
        fact_id = f"f{number}"
        record = {"id": fact_id, "text": text, "source": source, "at": datetime.now(UTC).isoformat()}
        await self.redis.hset(FACTS, fact_id, json.dumps(record))
        return fact_id

    async def recall(self, query: str, limit: int = 3) -> list[tuple[str, str]]:
        wanted = terms(query)
        scored: list[tuple[float, str, str]] = []
        for raw in (await self.redis.hgetall(FACTS)).values():
            fact = json.loads(raw)
            overlap = len(wanted & terms(fact["text"]))
            if overlap:
                scored.append((overlap / (len(wanted) or 1), fact["id"], fact["text"]))
        scored.sort(key=lambda s: (-s[0], s[1]))
        return [(fid, text) for _, fid, text in scored[:limit]]

    async def known(self, needles: Sequence[str]) -> frozenset[str]:
        texts = [json.loads(raw)["text"].lower() for raw in (await self.redis.hgetall(FACTS)).values()]
        return frozenset(n for n in needles if n and any(n.lower() in text for text in texts))

    async def forget(self, fact_id: str) -> str | None:
        raw = await self.redis.hget(FACTS, fact_id)
        if raw is None:
            return None
        await self.redis.hdel(FACTS, fact_id)
        return str(json.loads(raw)["text"])
