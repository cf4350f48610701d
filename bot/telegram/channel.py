"""The Telegram channel inside Deputy's event loop. Every update is stored (bot/ingress.py) before Telegram
hears it was taken: in webhook mode before the 200, in polling mode before the offset moves past it — so an
update Deputy crashed on is fetched or found again, never dropped. Start-up runs in the background and retries
with backoff, so a Bot API outage delays Telegram and nothing else."""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from aiohttp import web
from redis.exceptions import RedisError
from telegram import BotCommand, Update
from telegram.error import InvalidToken, TelegramError
from telegram.ext import ExtBot

from bot.ingress import Ingress
from bot.payloads import Malformed, as_stored, json_object, need, stored_json
from bot.stopping import end
from bot.telegram.inbound import TelegramInbound
from bot.telegram.outbound import TelegramOutbox
from memory.faults import describe
from memory.inbox import Entry
from orchestrator.coordinator import Coordinator
from orchestrator.words import menu

log = logging.getLogger("deputy.telegram")
ALLOWED_UPDATES = ["message", "callback_query"]
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
BACKOFF_S = (1.0, 2.0, 5.0, 10.0, 30.0, 60.0)
POLL_S = 20
MAX_BODY = 1024 * 1024
COMMANDS = [BotCommand(name, description) for name, description in menu()]
KEEP_PARSED = 1024
"""Updates the webhook parsed and stored, kept (~2 KB each) for the work behind their acks so it need not parse
them again on the loop that answers Telegram (issue 30); past this many waiting, the rest are parsed from the store."""
T = TypeVar("T")


@dataclass(frozen=True)
class Mode:
    """How updates arrive: `polling`, or `webhook` at `public_url` + /telegram/webhook checked with `secret`."""

    name: str = "polling"
    public_url: str | None = None
    secret: str = ""


class TelegramChannel:
    def __init__(self, mode: Mode, coordinator: Coordinator, outbox: TelegramOutbox, ingress: Ingress) -> None:
        self.mode, self.outbox, self.ingress = mode, outbox, ingress
        self.webhook_mode = mode.name == "webhook"
        self.inbound = TelegramInbound(coordinator, outbox)
        self.ready = asyncio.Event()
        """The bot knows who it is (its username tells a mention in a group)."""
        self._starting: asyncio.Task[None] | None = None
        self._parsed: dict[str, Update] = {}
        ingress.handle("telegram", self.process)

    # ---- lifecycle ----------------------------------------------------------------------------------

    async def start(self) -> None:
        self._starting = asyncio.create_task(self._start(), name="deputy:telegram:start")

    async def _start(self) -> None:
        bot = self.outbox.bot
        try:
            await _with_backoff("connect (getMe)", bot.initialize)
        except InvalidToken:
            log.error("Telegram rejected TELEGRAM_BOT_TOKEN; Telegram stays off (check it with 'deputy doctor')")
            return
        self.ready.set()
        await self._announce()
        log.info("Telegram channel up (%s) as @%s", self.mode.name, bot.username)
        if not self.webhook_mode:
            await _with_backoff("stop a webhook", lambda: bot.delete_webhook(drop_pending_updates=False))
            await self._poll()

    async def _announce(self) -> None:
        """Non-essential calls: a failure is logged and Deputy carries on."""
        bot = self.outbox.bot
        try:
            await bot.set_my_commands(COMMANDS)
            if self.webhook_mode and self.mode.public_url:
                await bot.set_webhook(
                    url=self.mode.public_url.rstrip("/") + "/telegram/webhook",
                    secret_token=self._secret,
                    allowed_updates=ALLOWED_UPDATES,
                )
        except TelegramError as err:
            log.warning("Telegram set-up call failed (%s); carrying on", err)

    async def _poll(self) -> None:
        """Pending updates are fetched, never dropped: the offset moves past an update only once it is stored,
        so what the operator sent while Deputy was down — or crashed on — comes again."""
        offset: int | None = None
        while True:
            updates = await _with_backoff("get updates", lambda: self._fetch(offset))  # noqa: B023 (awaited at once)
            for update in updates:
                await self._store_until_stored(update)
                offset = update.update_id + 1

    async def _fetch(self, offset: int | None) -> tuple[Update, ...]:
        return await self.outbox.bot.get_updates(offset=offset, timeout=POLL_S, allowed_updates=ALLOWED_UPDATES)

    async def _store_until_stored(self, update: Update) -> None:
        for attempt in range(10_000):
            try:
                await self.ingress.accept("telegram", {"body": stored_json(update.to_dict())})
                return
            except (RedisError, OSError) as err:
                delay = BACKOFF_S[min(attempt, len(BACKOFF_S) - 1)]
                log.warning("can't store Telegram update %s (%s); trying again in %.0f s", update.update_id, err, delay)
                await asyncio.sleep(delay)

    async def stop(self) -> None:
        if self._starting is not None:
            await end(self._starting)

    async def lifespan(self, _: web.Application) -> AsyncIterator[None]:
        """For aiohttp's `cleanup_ctx`: the channel lives exactly as long as the web app."""
        await self.start()
        yield
        await self.stop()

    # ---- webhook ------------------------------------------------------------------------------------

    @property
    def _secret(self) -> str:
        return self.mode.secret

    async def webhook(self, request: web.Request) -> web.Response:
        """Check the secret and the update, store it, then answer: Telegram retries anything but a 2xx."""
        given = request.headers.get(SECRET_HEADER, "")
        if not self._secret or not hmac.compare_digest(given.encode(), self._secret.encode()):
            return web.json_response({"error": "wrong or missing secret token"}, status=403)
        if (request.content_length or 0) > MAX_BODY:
            return web.json_response({"error": "body too large"}, status=413)
        try:
            body, update = parsed_update(await request.content.read(MAX_BODY + 1), self.outbox.bot)
        except Malformed as err:
            return web.json_response({"error": str(err)}, status=400)
        try:
            stored = await self.ingress.accept("telegram", {"body": body})
        except RedisError as err:
            return web.json_response({"error": f"can't store the update now ({describe(err)})"}, status=503)
        if update is not None and stored.entry_id and len(self._parsed) < KEEP_PARSED:
            self._parsed[stored.entry_id] = update  # before its work's first step: that runs after this returns
        return web.json_response({"ok": True})

    # ---- the stored update --------------------------------------------------------------------------

    async def process(self, entry: Entry) -> None:
        """An update as stored: a message or a button press, handled once (its dedupe is in the core)."""
        await self.ready.wait()
        update = self._parsed.pop(entry.id, None) or Update.de_json(json.loads(entry.fields["body"]), self.outbox.bot)
        await self.inbound.handle(update, self.outbox.bot.username or "", delivery=entry.id)


def parsed_update(raw: bytes, bot: ExtBot[Any]) -> tuple[str, Update | None]:
    """The update as text to store, if it is one Deputy can take: UTF-8 JSON, an object with an integer
    `update_id`, and, for what Deputy reads, the fields it needs; anything else is `Malformed` (a 400, never a
    500). With it the update as parsed, unless storing cleaned the text (then the stored text is what counts)."""
    if len(raw) > MAX_BODY:
        raise Malformed("body too large")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise Malformed("body is not UTF-8") from None
    data = json_object(text)
    need(data, "update_id", int)
    if "message" in data:
        _message(need(data, "message", dict))
    if "callback_query" in data:
        need(data, "callback_query.id", str)
        need(data, "callback_query.from.id", int)
        _optional(data, "callback_query.data", str)
        _optional(data, "callback_query.message", dict)
        if isinstance(data["callback_query"].get("message"), dict):
            _message(data["callback_query"]["message"])
    try:
        update = Update.de_json(data, bot)
    except Exception:  # PTB trusts Telegram: a date past the year 9999 overflows, a wrong type raises anything
        raise Malformed("not a Telegram update") from None
    stored = as_stored(text, data)
    return stored, update if stored is text else None


def _message(message: dict[str, Any]) -> None:
    need(message, "chat.id", int)
    need(message, "message_id", int)
    _optional(message, "chat.type", str)
    _optional(message, "text", str)
    _optional(message, "from", dict)
    if isinstance(message.get("from"), dict):
        need(message, "from.id", int)


def _optional(data: dict[str, Any], path: str, kind: type) -> None:
    """Checked when present (and not null): Telegram leaves out what a message doesn't have."""
    node: Any = data
    for part in path.split(".")[:-1]:
        node = node.get(part) if isinstance(node, dict) else None
    if isinstance(node, dict) and node.get(path.rsplit(".", 1)[-1]) is not None:
        need(data, path, kind)


async def _with_backoff(what: str, step: Callable[[], Awaitable[T]]) -> T:
    for attempt in range(10_000):
        try:
            return await step()
        except InvalidToken:
            raise
        except (TelegramError, OSError) as err:
            delay = BACKOFF_S[min(attempt, len(BACKOFF_S) - 1)]
            log.warning("Telegram %s failed (%s); retrying in %.0f s", what, err, delay)
            await asyncio.sleep(delay)
    raise TimeoutError(f"Telegram {what} kept failing")


def mount(app: web.Application, channel: TelegramChannel) -> None:
    app.cleanup_ctx.append(channel.lifespan)
    if channel.webhook_mode:
        app.router.add_post("/telegram/webhook", channel.webhook)
