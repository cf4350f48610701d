"""A channel and a source from outside Deputy's folders, loaded through DEPUTY_PLUGINS=tests.e2e.fax_plugin in
the web process and in every worker: a tiny "fax" chat (`POST /fax/in`, its sent pages kept in a Redis list so a
test reads what any process sent) and a "mailbag" source (items a loop takes from a Redis list)."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from redis.asyncio import Redis
from redis.exceptions import RedisError

from bot import cards
from bot.channels import Mount
from bot.checks import Check
from bot.sources import as_task, take
from bot.stopping import end
from memory.codec import text
from memory.inbox import Entry
from orchestrator.buttons import BY_NAME, Click, Shown, Target
from orchestrator.commands import Inbound
from orchestrator.coordinator import Coordinator
from orchestrator.model import Actor, ChatRef
from orchestrator.outbound import Outbound

SENT = "test:fax:sent"
"""Every page the fax outbox sent or redrew, as JSON: {chat, ref, text, buttons: [[label, data], …]}."""
MAILBAG = "test:mailbag"
"""Items for the mailbag source: JSON {key, body}."""


@dataclass(frozen=True)
class Values:
    """Nothing to configure: being named in DEPUTY_PLUGINS turns it on."""


def buttons(message: Outbound) -> list[list[str]]:
    """The fax's own button encoding, made from the buttons table: `<name>:<id>:<version>` (`approve:…`,
    `reject:…`) for the deciding buttons a pending card shows."""
    card = cards.view(message)
    if card is None or not card.pending:
        return []
    shown = [b for b in card.buttons() if b.shown is Shown.PENDING and b.build is not None]
    return [[card.label(b), f"{b.name}:{card.id}:{card.version}"] for b in shown]


class FaxOutbox:
    def __init__(self, redis: Redis) -> None:
        self.redis = redis

    async def send(self, chat: ChatRef, message: Outbound) -> str | None:
        ref = uuid.uuid4().hex
        await self._page(chat, ref, message)
        return ref

    async def edit(self, chat: ChatRef, ref: str, message: Outbound) -> None:
        await self._page(chat, ref, message)

    async def _page(self, chat: ChatRef, ref: str, message: Outbound) -> None:
        page = {"chat": chat.chat, "ref": ref, "text": message.text, "buttons": buttons(message)}
        await self.redis.rpush(SENT, json.dumps(page))


def click(data: str, actor: Actor, chat: ChatRef, event_id: str, delivery: str) -> Click:
    """A press of a fax button as the core's `Click` (the one place the button encoding is read)."""
    name, proposal_id, version = data.split(":")
    target = Target(proposal_id, version=int(version))
    return Click(actor, chat, BY_NAME[name], target, event_id, delivery=delivery)


class FaxInbound:
    def __init__(self, coordinator: Coordinator, ingress: Any) -> None:
        self.coordinator, self.ingress = coordinator, ingress

    async def receive(self, request: web.Request) -> web.Response:
        """Stored before the 200, like every channel's request."""
        body = await request.text()
        await self.ingress.accept("fax", {"body": body})
        return web.json_response({"ok": True})

    async def process(self, entry: Entry) -> None:
        sent = json.loads(entry.fields["body"])
        sender = str(sent["from"])
        actor, chat, event_id = Actor("fax", sender, f"fax {sender}"), ChatRef("fax", sender), f"fax-{sent['id']}"
        if "press" in sent:
            await self.coordinator.click(click(sent["press"], actor, chat, event_id, entry.id), _no_answer)
        else:
            inbound = Inbound(actor=actor, chat=chat, text=sent["text"], event_id=event_id, delivery=entry.id)
            await self.coordinator.receive(inbound)


async def _no_answer(text: str, refused: bool) -> None:
    """A fax has no toast: the redrawn card is the answer."""


class Fax:
    platform, paths, values, chat = "fax", ("/fax/",), Values, True

    def configured(self, values: Any) -> bool:
        return True

    def outbox(self, values: Any, redis: Redis) -> FaxOutbox:
        return FaxOutbox(redis)

    def preload(self, values: Any) -> None:
        pass

    def mount(self, app: web.Application, values: Any, at: Mount) -> None:
        inbound = FaxInbound(at.coordinator, at.ingress)
        at.ingress.handle("fax", inbound.process)
        app.router.add_post("/fax/in", inbound.receive)

    async def doctor(self, values: Any) -> list[Check]:
        return [Check("Fax", True, "a test's own channel")]


class Mailbag:
    """A source with no route: a loop takes each item, stores it through `take` (dedupe by its key), then
    removes it from the bag — the bag is the outside system, and an item taken twice starts one task."""

    name, paths, values = "mailbag", (), Values

    def configured(self, values: Any) -> bool:
        return True

    def start(self, app: web.Application, values: Any, at: Mount) -> None:
        at.ingress.handle("mailbag", as_task(at.coordinator, at.report_to))

        async def lifespan(_: web.Application) -> AsyncIterator[None]:
            loop = asyncio.create_task(_collect(at), name="test:mailbag")
            yield
            await end(loop)  # a lone cancel can be lost in a Redis call (see `end`), and this loop goes on after errors

        app.cleanup_ctx.append(lifespan)


async def _collect(at: Mount) -> None:
    redis = at.redis
    while True:
        try:
            for raw in await redis.lrange(MAILBAG, 0, -1):
                item = json.loads(raw)
                fields = {"name": "mailbag", "body": item["body"], "delivery": item["key"]}
                await take(at.ingress, "mailbag", fields, dedupe=[f"test:mailbag:seen:{item['key']}"])
                await redis.lrem(MAILBAG, 1, text(raw))
        except RedisError:
            pass
        await asyncio.sleep(0.05)


CHANNEL = Fax()
SOURCE = Mailbag()
