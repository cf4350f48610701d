"""One `ChatOutbox` that forwards to the channel a chat belongs to."""

from __future__ import annotations

from collections.abc import Awaitable, Mapping
from typing import TypeVar

from orchestrator.errors import ConfigError
from orchestrator.model import ChatRef
from orchestrator.outbound import Outbound
from orchestrator.ports import ChatOutbox, Liveness

T = TypeVar("T")


class OutboxRouter:
    """Records each delivery's outcome per platform, so the scheduler can tell when a channel stops working."""

    def __init__(self, channels: Mapping[str, ChatOutbox], health: Liveness | None = None) -> None:
        self.channels, self.health = channels, health

    def _for(self, chat: ChatRef) -> ChatOutbox:
        try:
            return self.channels[chat.platform]
        except KeyError:
            raise ConfigError(f"no outbound channel for platform {chat.platform!r}") from None

    async def send(self, chat: ChatRef, message: Outbound) -> str | None:
        return await self._watch(chat, self._for(chat).send(chat, message))

    async def edit(self, chat: ChatRef, ref: str, message: Outbound) -> None:
        await self._watch(chat, self._for(chat).edit(chat, ref, message))

    async def _watch(self, chat: ChatRef, delivery: Awaitable[T]) -> T:
        try:
            result = await delivery
        except Exception:
            await self._record(chat, False)
            raise
        await self._record(chat, True)
        return result

    async def _record(self, chat: ChatRef, ok: bool) -> None:
        if self.health is not None and chat.platform != "console":
            try:
                await self.health.record(chat.platform, ok)
            except Exception:  # health is advisory: never fail a delivery over it
                return
