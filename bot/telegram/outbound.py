"""The Telegram `ChatOutbox`: posts and edits through python-telegram-bot's `ExtBot`, so a worker process
can post cards too. Sends and edits are paced per chat across processes (about one a second, see `bot.pacing`:
a task's progress, streaming in, must not run past it); `AIORateLimiter` keeps
each process under Telegram's global limit and honours `RetryAfter`."""

from __future__ import annotations

import logging
from typing import Any

from redis.asyncio import Redis
from telegram import ForceReply, InlineKeyboardButton, InlineKeyboardMarkup, LinkPreviewOptions
from telegram.constants import ParseMode
from telegram.error import BadRequest
from telegram.ext import AIORateLimiter, ExtBot

from bot.pacing import pace
from bot.telegram.http import AiohttpRequest, Timeouts
from bot.telegram.render import Piece, render
from orchestrator.model import ChatRef
from orchestrator.outbound import Outbound

log = logging.getLogger("deputy.telegram")
SEND_INTERVAL_S = 1.0
RETRIES = 3
NO_PREVIEW = LinkPreviewOptions(is_disabled=True)


def make_bot(token: str, base_url: str) -> tuple[ExtBot[Any], list[AiohttpRequest]]:
    """The bot and its two HTTP clients (bot/telegram/http.py), which the caller closes (a bot never
    `initialize()`d — that costs a getMe per RQ job — would not close them itself)."""
    requests = [AiohttpRequest(pool_size=16, timeouts=Timeouts(read=15)), AiohttpRequest(timeouts=Timeouts(read=30))]
    bot: ExtBot[Any] = ExtBot(
        token,
        base_url=base_url,
        request=requests[0],
        get_updates_request=requests[1],
        rate_limiter=AIORateLimiter(max_retries=RETRIES),
    )
    return bot, requests


def markup(piece: Piece) -> InlineKeyboardMarkup:
    rows = [[InlineKeyboardButton(b.text, callback_data=b.data) for b in row] for row in piece.keyboard]
    return InlineKeyboardMarkup(rows)


class TelegramOutbox:
    def __init__(self, *, token: str, base_url: str, redis: Redis) -> None:
        self.token, self.base_url, self.redis = token, base_url, redis
        self._bot: ExtBot[Any] | None = None
        self._requests: list[AiohttpRequest] = []

    @property
    def bot(self) -> ExtBot[Any]:
        """Made on first use, in the event loop that uses it (each RQ job runs its own)."""
        if self._bot is None:
            self._bot, self._requests = make_bot(self.token, self.base_url)
        return self._bot

    async def send(self, chat: ChatRef, message: Outbound) -> str | None:
        return await self.send_pieces(chat, render(message))

    async def send_pieces(self, chat: ChatRef, pieces: list[Piece]) -> str | None:
        """Post each piece as its own message; the first one's id is the reference for later edits."""
        first: str | None = None
        for piece in pieces:
            await pace(self.redis, f"telegram:{chat.chat}", SEND_INTERVAL_S)
            sent = await self.bot.send_message(
                chat_id=chat.chat,
                text=piece.html,
                parse_mode=ParseMode.HTML,
                reply_markup=markup(piece),
                link_preview_options=NO_PREVIEW,
            )
            first = first or str(sent.message_id)
        return first

    async def prompt(self, chat: ChatRef, html: str, placeholder: str) -> str:
        """A message the app answers with a reply (ForceReply); its id ties the reply to what was asked."""
        await pace(self.redis, f"telegram:{chat.chat}", SEND_INTERVAL_S)
        sent = await self.bot.send_message(
            chat_id=chat.chat,
            text=html,
            parse_mode=ParseMode.HTML,
            reply_markup=ForceReply(input_field_placeholder=placeholder),
        )
        return str(sent.message_id)

    async def edit(self, chat: ChatRef, ref: str, message: Outbound) -> None:
        """Edit in place (the keyboard goes with the new markup); a message that can no longer be edited
        gets the update as a new message instead."""
        first, *rest = render(message)
        await pace(self.redis, f"telegram:{chat.chat}", SEND_INTERVAL_S)  # an edit counts against the chat's pace
        try:
            await self.bot.edit_message_text(
                chat_id=chat.chat,
                message_id=int(ref),
                text=first.html,
                parse_mode=ParseMode.HTML,
                reply_markup=markup(first),
                link_preview_options=NO_PREVIEW,
            )
        except BadRequest as err:
            if "not modified" in err.message:
                return
            log.info("could not edit Telegram message %s (%s); posting anew", ref, err.message)
            await self.send_pieces(chat, [first])
        if rest:
            await self.send_pieces(chat, rest)

    async def close(self) -> None:
        for request in self._requests:
            await request.shutdown()
        self._bot, self._requests = None, []
