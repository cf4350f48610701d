"""One `ChatOutbox` that forwards to the channel a chat belongs to."""

from __future__ import annotations

from collections.abc import Mapping

from orchestrator.errors import ConfigError
from orchestrator.model import ChatRef
from orchestrator.outbound import Outbound
from orchestrator.ports import ChatOutbox


class OutboxRouter:
    def __init__(self, channels: Mapping[str, ChatOutbox]) -> None:
        self.channels = channels

    def _for(self, chat: ChatRef) -> ChatOutbox:
        try:
            return self.channels[chat.platform]
        except KeyError:
            raise ConfigError(f"no outbound channel for platform {chat.platform!r}") from None

    async def send(self, chat: ChatRef, message: Outbound) -> str | None:
        return await self._for(chat).send(chat, message)

    async def edit(self, chat: ChatRef, ref: str, message: Outbound) -> None:
        await self._for(chat).edit(chat, ref, message)
