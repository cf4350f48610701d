"""The Telegram channel's lifecycle inside Deputy's event loop (never `run_polling()`, which owns the loop).
Start-up runs in the background and retries with backoff, so a Bot API outage delays Telegram and nothing
else; polling is the default, webhook mode serves `POST /telegram/webhook` behind a secret token."""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable

from aiohttp import web
from telegram import BotCommand, Update
from telegram.error import InvalidToken, TelegramError
from telegram.ext import AIORateLimiter, Application, ApplicationBuilder, CallbackQueryHandler, MessageHandler, filters

from bot.telegram.inbound import TelegramInbound
from bot.telegram.outbound import RETRIES, TelegramOutbox
from config.settings import Settings
from orchestrator.coordinator import Coordinator
from orchestrator.words import menu

log = logging.getLogger("deputy.telegram")
ALLOWED_UPDATES = ["message", "callback_query"]
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
BACKOFF_S = (1.0, 2.0, 5.0, 10.0, 30.0, 60.0)
COMMANDS = [BotCommand(name, description) for name, description in menu()]


class TelegramChannel:
    def __init__(self, settings: Settings, coordinator: Coordinator, outbox: TelegramOutbox) -> None:
        assert settings.telegram_bot_token is not None
        self.settings = settings
        self.webhook_mode = settings.telegram_mode == "webhook"
        builder = (
            ApplicationBuilder()
            .token(settings.telegram_bot_token.get_secret_value())
            .base_url(settings.telegram_api_url)
            .concurrent_updates(True)  # one slow update must not stall the chat
            .rate_limiter(AIORateLimiter(max_retries=RETRIES))
        )
        if self.webhook_mode:
            builder = builder.updater(None)
        self.application: Application = builder.build()  # type: ignore[type-arg]
        inbound = TelegramInbound(coordinator, outbox)
        self.application.add_handler(MessageHandler(filters.UpdateType.MESSAGE & filters.TEXT, inbound.on_message))
        self.application.add_handler(CallbackQueryHandler(inbound.on_click))
        self.application.add_error_handler(_log_error)
        self._starting: asyncio.Task[None] | None = None

    # ---- lifecycle ----------------------------------------------------------------------------------

    async def start(self) -> None:
        self._starting = asyncio.create_task(self._start(), name="deputy:telegram:start")

    async def _start(self) -> None:
        steps: list[tuple[str, Callable[[], Awaitable[object]]]] = [
            ("connect (getMe)", self.application.initialize),
            ("start", self.application.start),
        ]
        if not self.webhook_mode:
            steps.append(("start polling", self._poll))
        try:
            for what, step in steps:
                await _with_backoff(what, step)
        except InvalidToken:
            log.error("Telegram rejected TELEGRAM_BOT_TOKEN; Telegram stays off (check it with 'deputy doctor')")
            return
        await self._announce()
        log.info("Telegram channel up (%s) as @%s", self.settings.telegram_mode, self.application.bot.username)

    async def _poll(self) -> None:
        """Pending updates are fetched, never dropped: what the operator sent while Deputy was down counts."""
        assert self.application.updater is not None
        await self.application.updater.start_polling(allowed_updates=ALLOWED_UPDATES, drop_pending_updates=False)

    async def _announce(self) -> None:
        """Non-essential calls: a failure is logged and Deputy carries on."""
        bot = self.application.bot
        try:
            await bot.set_my_commands(COMMANDS)
            if self.webhook_mode and self.settings.public_url:
                await bot.set_webhook(
                    url=self.settings.public_url.rstrip("/") + "/telegram/webhook",
                    secret_token=self._secret,
                    allowed_updates=ALLOWED_UPDATES,
                )
        except TelegramError as err:
            log.warning("Telegram set-up call failed (%s); carrying on", err)

    async def stop(self) -> None:
        if self._starting is not None:
            self._starting.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._starting
        app = self.application
        if app.updater is not None and app.updater.running:
            await app.updater.stop()
        if app.running:
            await app.stop()
        with contextlib.suppress(TelegramError):
            await app.shutdown()

    async def lifespan(self, _: web.Application) -> AsyncIterator[None]:
        """For aiohttp's `cleanup_ctx`: the channel lives exactly as long as the web app."""
        await self.start()
        yield
        await self.stop()

    # ---- webhook ------------------------------------------------------------------------------------

    @property
    def _secret(self) -> str:
        secret = self.settings.telegram_webhook_secret
        return secret.get_secret_value() if secret else ""

    def _queue(self, data: dict[str, object]) -> None:
        try:
            update = Update.de_json(data, self.application.bot)
        except (ValueError, TypeError, KeyError, AttributeError) as err:
            log.warning("dropped a malformed Telegram update %s: %s", data.get("update_id"), err)
            return
        self.application.update_queue.put_nowait(update)

    async def webhook(self, request: web.Request) -> web.Response:
        """Check the secret, queue the update for PTB, answer at once (a slow webhook stalls the chat)."""
        given = request.headers.get(SECRET_HEADER, "")
        if not self._secret or not hmac.compare_digest(given.encode(), self._secret.encode()):
            return web.json_response({"error": "wrong or missing secret token"}, status=403)
        if not self.application.running:
            return web.json_response({"error": "starting; Telegram will retry"}, status=503)
        try:
            data = json.loads(await request.read())
        except ValueError:
            return web.json_response({"error": "not JSON"}, status=400)
        if not isinstance(data, dict) or not isinstance(data.get("update_id"), int):
            return web.json_response({"error": "not a Telegram update"}, status=400)
        asyncio.get_running_loop().call_soon(self._queue, data)  # parsed after the answer is on its way
        return web.json_response({"ok": True})


async def _with_backoff(what: str, step: Callable[[], Awaitable[object]]) -> None:
    for attempt in range(10_000):
        try:
            await step()
            return
        except InvalidToken:
            raise
        except (TelegramError, OSError) as err:
            delay = BACKOFF_S[min(attempt, len(BACKOFF_S) - 1)]
            log.warning("Telegram %s failed (%s); retrying in %.0f s", what, err, delay)
            await asyncio.sleep(delay)


async def _log_error(update: object, context: object) -> None:
    error = getattr(context, "error", None)
    log.error(
        "Telegram update could not be handled: %r", error, exc_info=error if isinstance(error, BaseException) else None
    )


def mount(app: web.Application, channel: TelegramChannel) -> None:
    app.cleanup_ctx.append(channel.lifespan)
    if channel.webhook_mode:
        app.router.add_post("/telegram/webhook", channel.webhook)
