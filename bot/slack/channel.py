"""The Slack channel: `POST /slack/events` (signing enforced) and, with `SLACK_APP_TOKEN`, Socket Mode (no public
URL). Whatever Slack sends is checked and stored (bot/ingress.py) before Slack gets its 200 or its envelope
ack; the stored request then runs through a Bolt `AsyncApp` (its routing, its Web API client at
`DEPUTY_SLACK_API_URL`). Start-up never blocks Deputy: Socket Mode connects in the background."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import logging
import re
import time
from collections.abc import AsyncIterator, Iterator

from aiohttp import web
from redis.exceptions import RedisError
from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncBoltContext
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_sdk.socket_mode.aiohttp import SocketModeClient
from slack_sdk.socket_mode.request import SocketModeRequest
from slack_sdk.socket_mode.response import SocketModeResponse

from bot.ingress import Ingress
from bot.payloads import Malformed, stored_json
from bot.slack import render
from bot.slack.inbound import SlackInbound
from bot.slack.outbound import SlackOutbox
from bot.slack.requests import check
from bot.stopping import end
from memory.faults import describe
from memory.inbox import Entry
from orchestrator import buttons
from orchestrator.coordinator import Coordinator

log = logging.getLogger("deputy.slack")
SOCKET_KINDS = ("events_api", "interactive", "slash_commands")


class SlackChannel:
    def __init__(
        self, *, secret: str, app_token: str, coordinator: Coordinator, outbox: SlackOutbox, ingress: Ingress
    ) -> None:
        self.secret = secret.encode()
        """Slack's signing secret; without it `/slack/events` is not served (Socket Mode needs none)."""
        self.app_token = app_token
        self.ingress, self.outbox = ingress, outbox
        with _quiet("slack_bolt.AsyncApp"):  # it reads SLACK_BOT_TOKEN itself and warns that `client` wins
            self.app = _bolt(secret, outbox)
        self.inbound = SlackInbound(coordinator, outbox)
        self._register()
        ingress.handle("slack", self.process)
        self.socket: SocketModeClient | None = None
        self._connecting: asyncio.Task[None] | None = None

    def _register(self) -> None:
        app, inbound = self.app, self.inbound
        app.event("message")(inbound.on_message)
        app.event("app_mention")(inbound.on_mention)
        app.event("app_home_opened")(inbound.on_home)
        app.event(re.compile(".*"))(_ignore)  # any other event: nothing to do
        app.command("/deputy")(inbound.on_command)
        for action_id in buttons.BY_ACTION_ID:  # every button of the table, read back by the table
            app.action(action_id)(inbound.on_button)
        app.view("deputy_reject_reason")(inbound.on_reject_submit)
        app.view("deputy_edit_fields")(inbound.on_edit_submit)
        app.view(render.REVISE_VIEW)(inbound.on_revise_submit)
        app.error(_keep_error)

    # ---- HTTP ---------------------------------------------------------------------------------------

    async def events(self, request: web.Request) -> web.Response:
        """Signature first (401), then the body (400 if it is not what Slack sends), then stored (503 if it
        can't be), and only then the 200."""
        body = await request.read()
        if not self.secret or not self._signed(request, body):
            return web.json_response({"error": "invalid or stale signature"}, status=401)
        content_type = request.headers.get("Content-Type", "")
        try:
            checked = check(body, content_type)
        except Malformed as err:
            return web.json_response({"error": str(err)}, status=400)
        if checked.kind == "url_verification":
            return web.json_response({"challenge": checked.challenge})
        if checked.kind == "ssl_check":
            return web.Response(status=200)
        return await self._store({"body": checked.body, "content_type": content_type, "mode": "http"})

    async def _store(self, fields: dict[str, str]) -> web.Response:
        try:
            await self.ingress.accept("slack", fields)
        except RedisError as err:
            return web.json_response({"error": f"can't store the request now ({describe(err)})"}, status=503)
        return web.Response(status=200)

    def _signed(self, request: web.Request, body: bytes) -> bool:
        """Slack's v0 signature over the exact bytes (slack_sdk's verifier decodes the body first, and a body
        that isn't UTF-8 must be a 400, not a crash)."""
        stamp = request.headers.get("X-Slack-Request-Timestamp", "")
        given = request.headers.get("X-Slack-Signature", "")
        mac = hmac.new(self.secret, f"v0:{stamp}:".encode() + body, hashlib.sha256).hexdigest()
        return _fresh(stamp) and hmac.compare_digest(f"v0={mac}", given)

    # ---- the stored request -------------------------------------------------------------------------

    async def process(self, entry: Entry) -> None:
        """Run a stored request through Bolt, to the end (its listeners do the work; Slack was answered)."""
        fields = entry.fields
        if fields.get("mode") == "socket":
            request = AsyncBoltRequest(mode="socket_mode", body=json.loads(fields["body"]))
        else:
            request = AsyncBoltRequest(body=fields["body"], headers={"content-type": [fields["content_type"]]})
        request.context["delivery"] = entry.id
        await self.app.async_dispatch(request)
        error = request.context.get("error")
        if isinstance(error, Exception):
            raise error  # a Redis fault: the ingress tries again; anything else is logged there

    # ---- Socket Mode --------------------------------------------------------------------------------

    async def _socket_request(self, client: SocketModeClient, request: SocketModeRequest) -> None:
        """Stored, then acknowledged: an envelope Deputy could not store is left unacknowledged (Slack retries)."""
        if request.type not in SOCKET_KINDS:
            await client.send_socket_mode_response(SocketModeResponse(envelope_id=request.envelope_id))
            return
        try:
            await self.ingress.accept("slack", {"body": stored_json(request.payload), "mode": "socket"})
        except RedisError as err:
            log.warning("Slack envelope %s not stored (%s); Slack will send it again", request.envelope_id, err)
            return
        await client.send_socket_mode_response(SocketModeResponse(envelope_id=request.envelope_id))

    # ---- lifecycle ----------------------------------------------------------------------------------

    async def start(self) -> None:
        if self.app_token:
            self.socket = SocketModeClient(app_token=self.app_token, web_client=self.outbox.client)
            self.socket.socket_mode_request_listeners.append(self._socket_request)  # type: ignore[arg-type]
            connect = self.socket.connect()  # type: ignore[no-untyped-call]
            self._connecting = asyncio.create_task(connect, name="deputy:slack:socket")

    async def stop(self) -> None:
        if self._connecting is not None:
            await end(self._connecting)
        if self.socket is not None:
            await self.socket.close()  # type: ignore[no-untyped-call]

    async def lifespan(self, _: web.Application) -> AsyncIterator[None]:
        await self.start()
        yield
        await self.stop()


def _bolt(secret: str, outbox: SlackOutbox) -> AsyncApp:
    return AsyncApp(
        signing_secret=secret or "socket-mode-only",  # HTTP is not mounted without the real secret
        client=outbox.client,
        process_before_response=True,  # the work runs to its end: the ingress removes the stored copy after
        raise_error_for_unhandled_request=False,
        request_verification_enabled=False,  # verified before it was stored; a stored request may be older
    )


async def _keep_error(error: Exception, context: AsyncBoltContext) -> None:
    """Bolt catches what a listener raises; keep it, so `process` can say the work did not finish."""
    context["error"] = error


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
    if channel.secret:
        app.router.add_post("/slack/events", channel.events)
