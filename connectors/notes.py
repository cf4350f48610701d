"""`note.save`: records a decision or plan inside Deputy. Saving under the idempotency key makes a repeat a
no-op, so it is safe to re-send."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from redis.asyncio import Redis

from orchestrator.errors import BadRequest
from orchestrator.kinds import Preview, Traits
from orchestrator.ports import HandOver, no_hand_over

NOTES = "deputy:notes"


TRAITS = Traits("note.save", minutes_saved=2.0, noun="note", done="saved")


@dataclass(frozen=True)
class Values:
    """Notes need no settings: they are kept in Deputy's own Redis."""


def build(values: Values, redis: Redis) -> NoteConnector:
    return NoteConnector(redis)


class NoteConnector:
    kind, traits = TRAITS.kind, TRAITS
    resend_safe = True

    def __init__(self, redis: Redis) -> None:
        self.redis = redis

    def validate(self, fields: dict[str, Any]) -> dict[str, Any]:
        title = " ".join(str(fields.get("title", "")).split())[:120]
        body = str(fields.get("body", ""))[:20_000]
        if not title:
            raise BadRequest("A note needs a title.")
        return {"title": title, "body": body}

    def preview(self, fields: dict[str, Any]) -> Preview:
        summary = f"Save the note “{fields['title']}” to Deputy's decisions"
        return Preview(summary, target="Deputy's decisions", body=fields["body"])

    def unavailable(self) -> str:
        return ""

    async def apply(self, fields: dict[str, Any], idempotency_key: str, handing_over: HandOver = no_hand_over) -> str:
        """Resend-safe (saved under the key, a repeat is a no-op), so there is no hand-over to report."""
        record = {**fields, "saved_at": datetime.now(UTC).isoformat(), "key": idempotency_key}
        await self.redis.hsetnx(NOTES, idempotency_key, json.dumps(record))
        return f"Saved note “{fields['title']}”"
