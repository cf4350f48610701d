"""Telegram's way to ask for a line of text: a ForceReply prompt (the app opens a reply to it), whose message id
ties the operator's reply back to what was asked — kept in Redis for a day, so any web process takes the reply."""

from __future__ import annotations

from redis.asyncio import Redis

from memory import keys
from memory.codec import text
from orchestrator.model import ChatRef

PROMPT_TTL_S = 24 * 3600


class Prompts:
    def __init__(self, redis: Redis) -> None:
        self.redis = redis

    async def remember(self, chat: ChatRef, message_id: str, proposal_id: str, version: int) -> None:
        await self.redis.set(_key(chat, message_id), f"{proposal_id}:{version}", ex=PROMPT_TTL_S)

    async def recall(self, chat: ChatRef, message_id: str) -> tuple[str, int] | None:
        """The proposal and version a prompt asked about, if the message is one of Deputy's prompts."""
        found = text(await self.redis.get(_key(chat, message_id)))
        proposal_id, _, version = found.rpartition(":")
        return (proposal_id, int(version)) if proposal_id and version.isdigit() else None


def _key(chat: ChatRef, message_id: str) -> str:
    return keys.telegram(f"prompt:{chat.chat}:{message_id}")
