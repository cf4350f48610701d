"""Telegram updates → the core: messages become `Inbound`, button presses become `Click`s. Nothing else:
no rules here. Private chats take any text; groups only commands and messages that mention the bot."""

from __future__ import annotations

import logging
from html import escape

from telegram import CallbackQuery, Chat, Update, User

from bot.telegram.outbound import TelegramOutbox
from bot.telegram.prompts import Prompts
from bot.telegram.render import render_full
from orchestrator import buttons
from orchestrator.buttons import Ask, Click
from orchestrator.commands import Inbound
from orchestrator.coordinator import Coordinator
from orchestrator.errors import DeputyError
from orchestrator.model import Actor, ChatRef
from orchestrator.outbound import Kind, Outbound

log = logging.getLogger("deputy.telegram")
TOAST_CHARS = 200
EXAMPLE = "Reply to this message, e.g. <i>warmer, mention the late fee</i>."
ASK, ASK_CURRENT = (
    f"✏️ What should change in <b>{{id}}</b> (v{{version}})? {EXAMPLE}",
    f"✏️ What should change in <b>{{id}}</b>? {EXAMPLE}",
)


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
        self.prompts = Prompts(outbox.redis)

    async def handle(self, update: Update, username: str, *, delivery: str = "") -> None:
        if update.callback_query is not None:
            await self.on_click(update.callback_query, delivery)
        elif update.effective_message is not None:
            await self.on_message(update, username, delivery)

    async def on_message(self, update: Update, username: str, delivery: str = "") -> None:
        message, user, chat = update.effective_message, update.effective_user, update.effective_chat
        if message is None or not message.text or user is None or chat is None or user.is_bot:
            return
        if message.reply_to_message is not None:  # an answer to a prompt needs no mention, even in a group
            asked = await self.prompts.recall(chat_ref(chat), str(message.reply_to_message.message_id))
            if asked is not None:
                await self._revise(update, asked, delivery)
                return
        text = addressed(message.text, chat.type, username)
        if text is None:
            return
        inbound = Inbound(
            actor=actor(user), chat=chat_ref(chat), text=text, event_id=str(update.update_id), delivery=delivery
        )
        await self.coordinator.receive(inbound)

    async def on_click(self, query: CallbackQuery, delivery: str = "") -> None:
        """The press's callback data names a button of the table (orchestrator/buttons.py) and what it is for."""
        if query.message is None:
            return
        found = buttons.from_telegram(query.data or "")
        chat = ChatRef("telegram", str(query.message.chat.id))
        if found is not None and found[0].ask in (Ask.READ, Ask.FEEDBACK) and await self._refused(query):
            return
        if found is not None and found[0].ask is Ask.READ:
            await self._full_text(query, chat, found[1].id)
        elif found is None or not found[1].id:
            await query.answer("This button is from an older Deputy; use /status.")
        elif found[0].ask is Ask.FEEDBACK:
            await self._ask(query, chat, found[1].id, found[1].version or 0)
        else:
            await self._press(query, Click(actor(query.from_user), chat, *found, f"cb{query.id}", delivery=delivery))

    async def _refused(self, query: CallbackQuery) -> bool:
        """A stranger's Full text or Revise: a toast at most (paced like their messages), never a post."""

        async def toast(text: str, refused: bool) -> None:
            await query.answer(text[:TOAST_CHARS])

        return await self.coordinator.refuses(actor(query.from_user), toast)

    async def _press(self, query: CallbackQuery, press: Click) -> None:
        async def toast(text: str, refused: bool) -> None:
            await query.answer(text[:TOAST_CHARS])

        await self.coordinator.click(press, toast)

    async def _ask(self, query: CallbackQuery, chat: ChatRef, proposal_id: str, version: int) -> None:
        """Revise: a prompt the operator replies to; the reply is the feedback, on the version the card showed (0: a
        button without one, `v:<id>`, means the current version)."""
        await query.answer("What should change? Reply to my message.")
        html = (ASK if version else ASK_CURRENT).format(id=escape(proposal_id), version=version)
        ref = await self.outbox.prompt(chat, html, "What should change?")
        await self.prompts.remember(chat, ref, proposal_id, version)

    async def _revise(self, update: Update, asked: tuple[str, int], delivery: str) -> None:
        message, user, chat = update.effective_message, update.effective_user, update.effective_chat
        assert message is not None and user is not None and chat is not None
        where = chat_ref(chat)

        async def answer(text: str, refused: bool) -> None:
            if refused:  # the revision's own line says it is coming
                await self.outbox.send(where, Outbound(kind=Kind.ERROR, text=text, reply_to=str(update.update_id)))

        proposal_id, version = asked
        feedback = message.text or ""
        target = buttons.Target(proposal_id, version=version or None)
        press = Click(actor(user), where, buttons.REVISE, target, str(update.update_id), feedback, delivery)
        await self.coordinator.click(press, answer)

    async def _full_text(self, query: CallbackQuery, chat: ChatRef, proposal_id: str) -> None:
        try:
            proposal = await self.coordinator.views.proposal(proposal_id)
        except DeputyError as err:
            await query.answer(str(err)[:TOAST_CHARS])
            return
        await query.answer("The full text follows.")
        await self.outbox.send_pieces(chat, render_full(proposal))
