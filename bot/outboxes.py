"""One outbox per configured channel (bot/channels.py; workers post through them too), each made on first use:
most commands (`deputy ledger`, `chat`, …) never post to Slack or Telegram, and importing their clients costs
about a second per process."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import cast

from redis.asyncio import Redis

from bot import channels
from config.settings import Settings
from orchestrator.model import ChatRef
from orchestrator.outbound import Outbound
from orchestrator.ports import ChatOutbox


class LazyOutbox:
    def __init__(self, make: Callable[[], ChatOutbox]) -> None:
        self._make, self._made = make, cast("ChatOutbox | None", None)

    def get(self) -> ChatOutbox:
        if self._made is None:
            self._made = self._make()
        return self._made

    async def send(self, chat: ChatRef, message: Outbound) -> str | None:
        return await self.get().send(chat, message)

    async def edit(self, chat: ChatRef, ref: str, message: Outbound) -> None:
        await self.get().edit(chat, ref, message)

    async def close(self) -> None:
        close = getattr(self._made, "close", None)
        if close is not None:
            await close()


def outboxes(settings: Settings, redis: Redis) -> dict[str, ChatOutbox]:
    return {c.platform: _lazy(c, values, redis) for c, values in channels.configured(settings)}


def _lazy(channel: channels.Channel, values: object, redis: Redis) -> LazyOutbox:
    return LazyOutbox(lambda: channel.outbox(values, redis))


def real(outboxes: Mapping[str, ChatOutbox], platform: str) -> ChatOutbox:
    """The real outbox behind a channel (what its inbound adapter needs for buttons and modals)."""
    outbox = outboxes[platform]
    return outbox.get() if isinstance(outbox, LazyOutbox) else outbox


def preload(settings: Settings) -> None:
    """Import the configured channels' clients now (a forking worker does, once, before its first job)."""
    for channel, values in channels.configured(settings):
        channel.preload(values)
