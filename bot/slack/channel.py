"""The Slack channel's lifecycle: a Bolt `AsyncApp` whose Web API client points at `DEPUTY_SLACK_API_URL`,
served at `POST /slack/events` (signing enforced) and, with `SLACK_APP_TOKEN`, over Socket Mode (no public
URL). Start-up never blocks Deputy: Socket Mode connects in the background and retries by itself."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import time
from collections.abc import AsyncIterator, Iterator

from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_bolt.adapter.socket_mode.aiohttp import AsyncSocketModeHandler
from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_sdk.signature import SignatureVerifier

from bot.slack import render
from bot.slack.inbound import SlackInbound
from bot.slack.outbound import SlackOutbox
from config.settings import Settings
from orchestrator.coordinator import Coordinator

log = logging.getLogger("deputy.slack")


class SlackChannel:
    def __init__(self, settings: Settings, coordinator: Coordinator, outbox: SlackOutbox) -> None:
        secret = settings.slack_signing_secret.get_secret_value() if settings.slack_signing_secret else ""
        self.verifier = SignatureVerifier(secret) if secret else None
        self.app_token = settings.slack_app_token.get_secret_value() if settings.slack_app_token else ""
        with _quiet("slack_bolt.AsyncApp"):  # it reads SLACK_BOT_TOKEN itself and warns that `client` wins
            self.app = self._bolt(secret, outbox)
        self.inbound = SlackInbound(coordinator, outbox)
        self._register()
        self.socket: AsyncSocketModeHandler | None = None
        self._connecting: asyncio.Task[None] | None = None

    @staticmethod
    def _bolt(secret: str, outbox: SlackOutbox) -> AsyncApp:
        return AsyncApp(
            signing_secret=secret or "socket-mode-only",  # HTTP is not mounted without the real secret
            client=outbox.client,
            process_before_response=False,
            raise_error_for_unhandled_request=False,
            request_verification_enabled=False,  # `events` verifies before parsing; Socket Mode needs none
        )

    def _register(self) -> None:
        app, inbound = self.app, self.inbound
        app.event("message")(inbound.on_message)
        app.event("app_mention")(inbound.on_mention)
        app.event("app_home_opened")(inbound.on_home)
        app.event(re.compile(".*"))(_ignore)  # any other event: a quiet 200, so Slack does not retry it
        app.command("/deputy")(inbound.on_command)
        app.action(render.APPROVE)(inbound.on_decide)
        app.action(render.UNDO)(inbound.on_decide)
        app.action(render.REJECT)(inbound.on_reject)
        app.action(render.EDIT)(inbound.on_edit)
        app.action(render.FULL)(inbound.on_full)
        app.action(render.SNOOZE)(inbound.on_snooze)
        app.action(render.APPROVE_LOW)(inbound.on_approve_low)
        for remedy in (render.RESEND, render.MARK_SENT, render.RUN_REST):
            app.action(remedy)(inbound.on_remedy)
        app.view("deputy_reject_reason")(inbound.on_reject_submit)
        app.view("deputy_edit_fields")(inbound.on_edit_submit)

    # ---- HTTP ---------------------------------------------------------------------------------------

    async def events(self, request: web.Request) -> web.Response:
        """Signature first (401), then the body (400 if it is not what Slack sends), then Bolt."""
        body = await request.read()
        if self.verifier is None or not self._signed(request, body):
            return web.json_response({"error": "invalid or stale signature"}, status=401)
        try:
            bolt_request = await to_bolt_request(request)
        except ValueError:
            return web.json_response({"error": "malformed body"}, status=400)
        return await to_aiohttp_response(await self.app.async_dispatch(bolt_request))

    def _signed(self, request: web.Request, body: bytes) -> bool:
        assert self.verifier is not None
        stamp = request.headers.get("X-Slack-Request-Timestamp", "")
        signature = request.headers.get("X-Slack-Signature", "")
        return _fresh(stamp) and self.verifier.is_valid(body=body, timestamp=stamp, signature=signature)

    # ---- lifecycle ----------------------------------------------------------------------------------

    async def start(self) -> None:
        if self.app_token:
            self.socket = AsyncSocketModeHandler(self.app, self.app_token, web_client=self.app.client)
            connect = self.socket.connect_async()  # type: ignore[no-untyped-call]
            self._connecting = asyncio.create_task(connect, name="deputy:slack:socket")

    async def stop(self) -> None:
        if self._connecting is not None and not self._connecting.done():
            self._connecting.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._connecting
        if self.socket is not None:
            await self.socket.close_async()  # type: ignore[no-untyped-call]
        await self.inbound.drain()

    async def lifespan(self, _: web.Application) -> AsyncIterator[None]:
        await self.start()
        yield
        await self.stop()


@contextlib.contextmanager
def _quiet(name: str) -> Iterator[None]:
    """Drop a logger's records for a moment (a filter: Bolt resets the logger's level while constructing)."""
    logger = logging.getLogger(name)
    drop = logging.Filter("no record passes a filter named like this")
    logger.addFilter(drop)
    try:
        yield
    finally:
        logger.removeFilter(drop)


async def _ignore(ack: AsyncAck) -> None:
    await ack()


def _fresh(stamp: str, window_s: int = 300) -> bool:
    try:
        return abs(time.time() - int(stamp)) <= window_s
    except ValueError:
        return False


def mount(app: web.Application, channel: SlackChannel) -> None:
    app.cleanup_ctx.append(channel.lifespan)
    if channel.verifier is not None:
        app.router.add_post("/slack/events", channel.events)
