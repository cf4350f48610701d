"""Slack events, slash commands, buttons and modals → the core. Each runs on a request Slack was already
answered for (it was stored first, see bot/slack/channel.py), to its end; no business rules here."""

from __future__ import annotations

import asyncio
import json
import logging
import re
from collections.abc import Callable
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncBoltContext
from slack_sdk.errors import SlackApiError

from bot.slack import render
from bot.slack.outbound import SlackOutbox
from orchestrator import buttons
from orchestrator import commands as cmd
from orchestrator.buttons import Ask, Button, Click, Target
from orchestrator.commands import Inbound
from orchestrator.coordinator import Coordinator
from orchestrator.errors import DeputyError
from orchestrator.model import Actor, ChatRef, Proposal
from orchestrator.words import from_slash

log = logging.getLogger("deputy.slack")
MENTION = re.compile(r"<@[A-Z0-9]+(?:\|[^>]*)?>")
Body = dict[str, Any]
Form = Callable[[Proposal, str], Body]
FORMS: dict[Ask, Form] = {
    Ask.REASON: render.reject_modal,
    Ask.FEEDBACK: render.revise_modal,
    Ask.FIELDS: render.edit_modal,
}
"""What Slack asks in a modal before the press: the submission is the press (`on_*_submit`)."""


def delivery(context: AsyncBoltContext) -> str:
    """The stored copy this request came from (bot/ingress.py): handled again after a crash, it passes dedupe."""
    return str(context.get("delivery") or "")


class SlackInbound:
    def __init__(self, coordinator: Coordinator, outbox: SlackOutbox) -> None:
        self.coordinator, self.outbox = coordinator, outbox
        self._names: dict[str, asyncio.Task[str]] = {}

    # ---- messages ----------------------------------------------------------------------------------

    async def on_message(self, event: Body, body: Body, context: AsyncBoltContext) -> None:
        """Direct messages only; edits, joins and bots' messages (our own included) are not requests."""
        if event.get("channel_type") != "im" or event.get("subtype") or event.get("bot_id"):
            return
        if isinstance(event.get("channel"), str):
            await self._receive(event, body, ChatRef("slack", event["channel"]), delivery(context))

    async def on_mention(self, event: Body, body: Body, context: AsyncBoltContext) -> None:
        """A mention in a channel starts a task that answers in the thread."""
        thread = event.get("thread_ts") or event.get("ts")
        if isinstance(event.get("channel"), str):
            await self._receive(event, body, ChatRef("slack", event["channel"], thread), delivery(context))

    async def _receive(self, event: Body, body: Body, chat: ChatRef, stored: str) -> None:
        user, text = event.get("user"), MENTION.sub("", str(event.get("text") or "")).strip()
        event_id = body.get("event_id") or f"{event.get('channel')}-{event.get('ts')}"
        if isinstance(user, str) and user:
            await self._receive_as(user, chat, text, str(event_id), stored)

    async def _receive_as(self, user: str, chat: ChatRef, text: str, event_id: str, stored: str) -> None:
        actor = Actor("slack", user, await self._name(user))
        await self.coordinator.receive(Inbound(actor=actor, chat=chat, text=text, event_id=event_id, delivery=stored))

    async def _name(self, user: str) -> str:
        """'@sam' for the cards ("approved by @sam"), looked up once per user however many events arrive at
        once; the id when Slack won't say (no users:read)."""
        if user not in self._names:
            self._names[user] = asyncio.create_task(self._lookup(user))
        return await asyncio.shield(self._names[user])

    async def _lookup(self, user: str) -> str:
        try:
            info = await (await self.outbox.api()).users_info(user=user)
        except SlackApiError:
            self._names.pop(user, None)  # ask again next time
            return user
        return f"@{(info.get('user') or {}).get('name') or user}"

    async def on_command(self, ack: AsyncAck, command: Body, context: AsyncBoltContext) -> None:
        """`/deputy <word> …` takes the chat words; `/deputy <anything else>` is a task."""
        await ack()
        chat = ChatRef("slack", command["channel_id"])
        event_id = f"cmd-{command.get('trigger_id')}"
        text = from_slash(str(command.get("text") or ""))
        await self._receive_as(command["user_id"], chat, text, event_id, delivery(context))

    # ---- buttons -----------------------------------------------------------------------------------

    async def on_button(self, ack: AsyncAck, body: Body, action: Body, context: AsyncBoltContext) -> None:
        """Any button of the table (orchestrator/buttons.py): a form first where it asks for something, else the
        press itself."""
        await ack()
        value, version = str(action.get("value") or ""), version_of(action)
        found = buttons.from_slack(str(action.get("action_id")), value, version)
        if found is None:
            return
        button, target = found
        form = FORMS.get(button.ask) if button.ask else None
        if (button.ask is Ask.READ or form is not None) and await self._refused(body):
            return
        if button.ask is Ask.READ:
            await self._full(body, target.id)
        elif form is not None:
            await self._open(body, target, form)
        else:
            await self._click(body, button, target, str(action.get("action_ts")), delivery(context))

    async def _refused(self, body: Body) -> bool:
        """A stranger's Full text or form: one ephemeral line at most (paced like their messages), no modal."""

        async def answer(text: str, refused: bool) -> None:
            await self._answer(body, text)

        return await self.coordinator.refuses(_actor(body), answer)

    async def _full(self, body: Body, proposal_id: str) -> None:
        try:
            proposal = await self.coordinator.views.proposal(proposal_id)
        except DeputyError as err:
            await self._answer(body, str(err))
            return
        await (await self.outbox.api()).views_open(trigger_id=body["trigger_id"], view=render.full_text_modal(proposal))

    async def _open(self, body: Body, target: Target, modal: Form) -> None:
        """A modal for the card's proposal, carrying the version the card showed (its block id says)."""
        try:
            proposal = await self.coordinator.views.proposal(target.id)
        except DeputyError as err:
            await self._answer(body, str(err))
            return
        private = json.dumps({"p": target.id, "v": target.version, **_where(body)})
        await (await self.outbox.api()).views_open(trigger_id=body["trigger_id"], view=modal(proposal, private))

    # ---- modals ------------------------------------------------------------------------------------

    async def on_reject_submit(self, ack: AsyncAck, body: Body, view: Body, context: AsyncBoltContext) -> None:
        await ack()
        meta = _meta(view)
        reason = view["state"]["values"].get("reason", {}).get("value", {}).get("value") or ""
        await self._submit(body, meta, view, buttons.REJECT, delivery(context), reason)

    async def on_revise_submit(self, ack: AsyncAck, body: Body, view: Body, context: AsyncBoltContext) -> None:
        await ack()
        meta = _meta(view)
        feedback = view["state"]["values"].get("feedback", {}).get("value", {}).get("value") or ""
        await self._submit(body, meta, view, buttons.REVISE, delivery(context), feedback)

    async def _submit(
        self, body: Body, meta: dict[str, Any], view: Body, button: Button, stored: str, said: str
    ) -> None:
        """A form's submission is the press it asked for, on the version the card showed."""
        version = meta.get("v")
        target = Target(meta["p"], version=version if isinstance(version, int) and version > 0 else None)
        await self._click({**body, **_body_from(meta)}, button, target, str(view["id"]), stored, said)

    async def on_edit_submit(self, ack: AsyncAck, body: Body, view: Body) -> None:
        await ack()
        meta = _meta(view)
        values = {
            block_id.removeprefix("field:"): state.get("value", {}).get("value") or ""
            for block_id, state in view["state"]["values"].items()
            if block_id.startswith("field:")
        }
        await self._edit({**body, **_body_from(meta)}, meta["p"], values)

    async def _edit(self, body: Body, proposal_id: str, values: dict[str, str]) -> None:
        try:
            proposal = await self.coordinator.views.proposal(proposal_id)
            old = proposal.actions[0].fields
            changes = {k: v for k, v in values.items() if k in old and str(old[k]) != v}
            if changes:
                edit = cmd.EditProposal(proposal_id=proposal_id, actor=_actor(body), chat=_chat(body), changes=changes)
                await self.coordinator.handle(edit)
        except DeputyError as err:
            await self._answer(body, str(err))

    # ---- answers and App Home ----------------------------------------------------------------------

    async def _click(
        self, body: Body, button: Button, target: Target, pressed_at: str, stored: str, reason: str = ""
    ) -> None:
        async def answer(text: str, refused: bool) -> None:
            if refused or not button.redraws:  # a success shows on the card itself
                await self._answer(body, text)

        event_id = f"act-{pressed_at}-{body['user']['id']}"
        press = Click(_actor(body), _chat(body), button, target, event_id, reason, stored)
        await self.coordinator.click(press, answer)
        if body.get("view", {}).get("type") == "home":
            await self.publish_home(body["user"]["id"])

    async def _answer(self, body: Body, text: str) -> None:
        """Only the presser sees it: an ephemeral line in the channel, or a DM from App Home and modals."""
        chat, user = _chat(body), body["user"]["id"]
        if "channel" in body and chat.chat != user:
            await self.outbox.ephemeral(chat, user, text)
        else:
            await self.outbox.post(ChatRef("slack", user), text, [render.section(text)])

    async def on_home(self, event: Body) -> None:
        if event.get("tab", "home") == "home" and isinstance(event.get("user"), str):
            await self.publish_home(event["user"])

    async def publish_home(self, user: str) -> None:
        views = self.coordinator.views
        running = len(await views.running_ids())
        view = render.home(await views.pending(), await views.running(), await views.spend_text(), running)
        await (await self.outbox.api()).views_publish(user_id=user, view=view)


def version_of(action: Body) -> int | None:
    """The version a button was drawn for: the last part of its block id (`deputy:<id>:<version>`)."""
    last = str(action.get("block_id") or "").rpartition(":")[2]
    return int(last) if last.isdigit() else None


def _actor(body: Body) -> Actor:
    user = body["user"]
    name = user.get("username") or user.get("name")
    return Actor("slack", user["id"], f"@{name}" if name else "")


def _chat(body: Body) -> ChatRef:
    """Where the pressed card lives; App Home and modals answer in the presser's DM with the bot."""
    channel = (body.get("channel") or {}).get("id")
    if not channel:
        return ChatRef("slack", body["user"]["id"])
    message = body.get("message") or {}
    return ChatRef("slack", channel, message.get("thread_ts"))


def _where(body: Body) -> dict[str, Any]:
    channel = (body.get("channel") or {}).get("id")
    return {"c": channel, "t": (body.get("message") or {}).get("thread_ts")} if channel else {}


def _meta(view: Body) -> dict[str, Any]:
    meta = json.loads(view.get("private_metadata") or "{}")
    return meta if isinstance(meta, dict) and isinstance(meta.get("p"), str) else {"p": ""}


def _body_from(meta: dict[str, Any]) -> Body:
    """A modal's submission has no channel: the card's is carried in the modal's private metadata."""
    if not meta.get("c"):
        return {}
    return {"channel": {"id": meta["c"]}, "message": {"thread_ts": meta.get("t")} if meta.get("t") else {}}
