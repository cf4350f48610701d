"""One outbox per configured channel (workers post through them too). Slack's and Telegram's are made on first
use: most commands (`deputy ledger`, `chat`, …) never post to either, and importing their clients costs about
a second per process."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import cast

from redis.asyncio import Redis

from bot.console.outbound import ConsoleOutbox
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
    chosen: dict[str, ChatOutbox] = {"console": ConsoleOutbox(redis)}
    if settings.telegram_bot_token:
        chosen["telegram"] = LazyOutbox(lambda: _telegram(settings, redis))
    if settings.slack_bot_token:
        chosen["slack"] = LazyOutbox(lambda: _slack(settings, redis))
    return chosen


def _telegram(settings: Settings, redis: Redis) -> ChatOutbox:
    from bot.telegram.outbound import TelegramOutbox

    assert settings.telegram_bot_token is not None
    token = settings.telegram_bot_token.get_secret_value()
    return TelegramOutbox(token=token, base_url=settings.telegram_api_url, redis=redis)


def _slack(settings: Settings, redis: Redis) -> ChatOutbox:
    from bot.slack.outbound import SlackOutbox, make_client

    assert settings.slack_bot_token is not None
    client = make_client(settings.slack_bot_token.get_secret_value(), settings.slack_api_url)
    return SlackOutbox(client=client, redis=redis)


def real(outboxes: Mapping[str, ChatOutbox], platform: str) -> ChatOutbox:
    """The real outbox behind a channel (what its inbound adapter needs for buttons and modals)."""
    outbox = outboxes[platform]
    return outbox.get() if isinstance(outbox, LazyOutbox) else outbox


def preload(settings: Settings) -> None:
    """Import the configured platforms' clients now (a forking worker does, once, before its first job)."""
    if settings.telegram_bot_token:
        import bot.telegram.outbound
    if settings.slack_bot_token:
        import bot.slack.outbound  # noqa: F401
