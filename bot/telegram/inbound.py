"""Telegram updates → the core: messages become `Inbound`, button presses become `Click`s. Nothing else:
no rules here. Private chats take any text; groups only commands and messages that mention the bot."""

from __future__ import annotations

import logging

from telegram import CallbackQuery, Chat, Update, User
from telegram.ext import ContextTypes

from bot.telegram.outbound import TelegramOutbox
from bot.telegram.render import render_full
from orchestrator.commands import Click, Inbound
from orchestrator.coordinator import Coordinator
from orchestrator.errors import DeputyError
from orchestrator.model import Actor, ChatRef

log = logging.getLogger("deputy.telegram")
TOAST_CHARS = 200
VERBS = {"a": "approve", "r": "reject", "u": "undo", "s": "snooze:1h", "t": "snooze:tomorrow", "al": "approve_low"}
VERBS |= {"rs": "resend", "ms": "mark_sent", "rr": "run_rest"}  # rs:/ms: carry `<id>:<action index>`


def actor(user: User) -> Actor:
    return Actor("telegram", str(user.id), f"@{user.username}" if user.username else user.full_name)


def chat_ref(chat: Chat) -> ChatRef:
    return ChatRef("telegram", str(chat.id))


def addressed(text: str, chat_type: str, username: str) -> str | None:
    """The text meant for Deputy, or None: in groups only commands and mentions count (mention removed)."""
    if chat_type == Chat.PRIVATE or text.startswith("/"):
        return text
    mention = f"@{username}"
    if username and mention.lower() in text.lower():
        start = text.lower().index(mention.lower())
        return (text[:start] + text[start + len(mention) :]).strip()
    return None


class TelegramInbound:
    def __init__(self, coordinator: Coordinator, outbox: TelegramOutbox) -> None:
        self.coordinator, self.outbox = coordinator, outbox

    async def on_message(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message, user, chat = update.effective_message, update.effective_user, update.effective_chat
        if message is None or not message.text or user is None or chat is None or user.is_bot:
            return
        text = addressed(message.text, chat.type, context.bot.username or "")
        if text is None:
            return
        inbound = Inbound(actor=actor(user), chat=chat_ref(chat), text=text, event_id=str(update.update_id))
        await self.coordinator.receive(inbound)

    async def on_click(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.callback_query
        if query is None or query.message is None:
            return
        code, _, proposal_id = (query.data or "").partition(":")
        chat = ChatRef("telegram", str(query.message.chat.id))
        if code == "f":
            await self._full_text(query, chat, proposal_id)
            return
        if code not in VERBS or not proposal_id:
            await query.answer("This button is from an older Deputy; use /status.")
            return

        async def toast(text: str, refused: bool) -> None:
            await query.answer(text[:TOAST_CHARS])

        proposal_id, _, index = proposal_id.partition(":")
        verb = f"{VERBS[code]}:{index}" if index else VERBS[code]
        click = Click(actor(query.from_user), chat, verb, proposal_id, event_id=f"cb{query.id}")
        if code == "al":
            await self.coordinator.approve_low(click, toast)
        else:
            await self.coordinator.click(click, toast)

    async def _full_text(self, query: CallbackQuery, chat: ChatRef, proposal_id: str) -> None:
        try:
            proposal = await self.coordinator.core.proposal(proposal_id)
        except DeputyError as err:
            await query.answer(str(err)[:TOAST_CHARS])
            return
        await query.answer("The full text follows.")
        await self.outbox.send_pieces(chat, render_full(proposal))
