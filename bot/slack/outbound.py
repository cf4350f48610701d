"""The Slack `ChatOutbox`: posts and updates through slack_sdk's `AsyncWebClient`, so a worker process can
post cards too. Posts are paced per channel and updates per message across processes (see `bot.pacing`); a 429
is retried after
its `Retry-After` by slack_sdk's retry handler; a card that can no longer be updated is posted anew."""

from __future__ import annotations

import logging

import aiohttp
from redis.asyncio import Redis
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
    AsyncServerErrorRetryHandler,
)
from slack_sdk.web.async_client import AsyncWebClient

from bot.pacing import pace
from bot.slack.render import Block, message
from orchestrator.model import ChatRef
from orchestrator.outbound import Outbound

log = logging.getLogger("deputy.slack")
SEND_INTERVAL_S = 1.0
EDIT_INTERVAL_S = 1.0
"""`chat.update` of one message at most about once a second (a task's progress, then its card)."""
RETRIES = 3


def make_client(token: str, base_url: str) -> AsyncWebClient:
    base = base_url if base_url.endswith("/") else base_url + "/"
    return AsyncWebClient(
        token=token,
        base_url=base,
        timeout=15,
        retry_handlers=[
            AsyncConnectionErrorRetryHandler(max_retry_count=RETRIES),
            AsyncRateLimitErrorRetryHandler(max_retry_count=RETRIES),
            AsyncServerErrorRetryHandler(max_retry_count=RETRIES),
        ],
    )


class SlackOutbox:
    def __init__(self, *, client: AsyncWebClient, redis: Redis) -> None:
        self.client, self.redis = client, redis
        self._session: aiohttp.ClientSession | None = None

    async def api(self) -> AsyncWebClient:
        """The client, on one HTTP session per event loop (slack_sdk's default opens a connection per call)."""
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30))
            self.client.session = self._session
        return self.client

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
        self._session = self.client.session = None

    async def send(self, chat: ChatRef, out: Outbound) -> str | None:
        text, blocks = message(out)
        return await self.post(chat, text, blocks)

    async def post(self, chat: ChatRef, text: str, blocks: list[Block]) -> str | None:
        await pace(self.redis, f"slack:{chat.chat}", SEND_INTERVAL_S)
        response = await (await self.api()).chat_postMessage(
            channel=chat.chat, thread_ts=chat.thread, text=text, blocks=blocks, unfurl_links=False, unfurl_media=False
        )
        ts = response.get("ts")
        return str(ts) if ts else None

    async def edit(self, chat: ChatRef, ref: str, out: Outbound) -> None:
        text, blocks = message(out)
        await pace(self.redis, f"slack-edit:{chat.chat}:{ref}", EDIT_INTERVAL_S)
        try:
            await (await self.api()).chat_update(channel=chat.chat, ts=ref, text=text, blocks=blocks)
        except SlackApiError as err:
            reason = err.response.get("error", "")
            if reason not in ("message_not_found", "cant_update_message", "edit_window_closed"):
                raise
            log.info("could not update Slack message %s (%s); posting anew", ref, reason)
            await self.post(chat, text, blocks)

    async def ephemeral(self, chat: ChatRef, user: str, text: str) -> None:
        """A line only `user` sees: refusals of clicks never clutter the channel."""
        await (await self.api()).chat_postEphemeral(channel=chat.chat, user=user, text=text, thread_ts=chat.thread)
