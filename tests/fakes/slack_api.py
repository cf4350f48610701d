"""A fake Slack Web API (and Socket Mode WebSocket), written as a small aiohttp app that answers like the real
one for the methods Deputy uses. Tests read what was posted from `calls`, inject 429s, and push Socket Mode
envelopes; `signed()` makes requests to `/slack/events` signed the way Slack signs them."""

from __future__ import annotations

import itertools
import json
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlencode

from aiohttp import web
from slack_sdk.signature import SignatureVerifier

from memory.embedded import free_port
from tests.conftest import eventually, serve

BOT_TOKEN, APP_TOKEN, SIGNING_SECRET = "xoxb-test-token", "xapp-test-token", "signing-secret-for-tests"
BOT_USER, OPERATOR, STRANGER, DM = "UBOT", "U0SAM", "U0EVE", "D0SAM"


@dataclass
class Call:
    method: str
    params: dict[str, Any]
    at: float = field(default_factory=time.monotonic)
    """When it arrived: tests check the pace of a task's edits."""

    @property
    def text(self) -> str:
        return json.dumps(self.params.get("blocks") or self.params.get("view") or self.params.get("text"))

    def action_ids(self) -> list[str]:
        """A card's buttons; a running task's Stop (`deputy_stop`) is apart: `stop()`."""
        return [a for a in self.all_action_ids() if a != "deputy_stop"]

    def all_action_ids(self) -> list[str]:
        blocks = self.params.get("blocks") or []
        return [e["action_id"] for b in blocks if b.get("type") == "actions" for e in b["elements"]]

    def stop(self) -> list[str]:
        blocks = self.params.get("blocks") or []
        found = [e for b in blocks if b.get("type") == "actions" for e in b["elements"]]
        return [str(e["value"]) for e in found if e["action_id"] == "deputy_stop"]


@dataclass
class FakeSlack:
    port: int = field(default_factory=free_port)
    calls: list[Call] = field(default_factory=list)
    fail: dict[str, list[int]] = field(default_factory=dict)
    acks: list[str] = field(default_factory=list)
    _sockets: list[web.WebSocketResponse] = field(default_factory=list)
    _ts: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}/api/"

    def sent(self, method: str = "") -> list[Call]:
        return [c for c in self.calls if not method or c.method == method]

    def fail_next(self, method: str, status: int = 429, times: int = 1) -> None:
        self.fail.setdefault(method, []).extend([status] * times)

    # ---- the Web API --------------------------------------------------------------------------------

    async def handle(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        token = request.headers.get("Authorization", "").removeprefix("Bearer ")
        params = await _params(request)
        expected = APP_TOKEN if method == "apps.connections.open" else BOT_TOKEN
        if token != expected and params.get("token") != expected:
            return web.json_response({"ok": False, "error": "invalid_auth"})
        if self.fail.get(method):
            status = self.fail[method].pop(0)
            headers = {"Retry-After": "1"} if status == 429 else {}
            return web.json_response({"ok": False, "error": "ratelimited"}, status=status, headers=headers)
        self.calls.append(Call(method, params))
        return web.json_response({"ok": True, **self._answer(method, params)})

    def _answer(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        if method == "auth.test":
            return {"user_id": BOT_USER, "bot_id": "B1", "team_id": "T1", "user": "deputy", "team": "Acme"}
        if method == "chat.postMessage":
            return {"channel": params.get("channel"), "ts": f"1700000000.{next(self._ts):06d}"}
        if method == "chat.update":
            return {"channel": params.get("channel"), "ts": params.get("ts")}
        if method == "users.info":
            return {"user": {"id": params.get("user"), "name": "sam" if params.get("user") == OPERATOR else "eve"}}
        if method == "apps.connections.open":
            return {"url": f"ws://127.0.0.1:{self.port}/link"}
        if method in ("views.open", "views.publish"):
            return {"view": {"id": f"V{next(self._ids)}"}}
        return {}

    # ---- Socket Mode --------------------------------------------------------------------------------

    async def link(self, request: web.Request) -> web.WebSocketResponse:
        socket = web.WebSocketResponse()
        await socket.prepare(request)
        await socket.send_json({"type": "hello", "num_connections": 1, "connection_info": {"app_id": "A1"}})
        self._sockets.append(socket)
        async for message in socket:
            envelope = json.loads(message.data)
            self.acks.append(envelope.get("envelope_id", ""))
        return socket

    async def push(self, kind: str, payload: dict[str, Any]) -> str:
        """Deliver an envelope over Socket Mode (kind: events_api, interactive, slash_commands)."""
        await eventually(lambda: self._sockets, 20, "Deputy to connect over Socket Mode")
        envelope_id = f"env-{next(self._ids)}"
        body = {"envelope_id": envelope_id, "type": kind, "payload": payload, "accepts_response_payload": False}
        await self._sockets[-1].send_json(body)
        return envelope_id


async def _params(request: web.Request) -> dict[str, Any]:
    params: dict[str, Any] = dict(request.query)
    raw = await request.text()
    if request.content_type == "application/json" and raw:
        params.update(json.loads(raw))
    elif raw:
        for key, value in parse_qsl(raw, keep_blank_values=True):
            params[key] = json.loads(value) if value[:1] in "[{" else value
    return params


async def start(fake: FakeSlack) -> web.AppRunner:
    app = web.Application()
    app.router.add_post("/api/{method}", fake.handle)
    app.router.add_get("/link", fake.link)
    return await serve(app, fake.port)


# ---- what Slack sends -------------------------------------------------------------------------------

_events = itertools.count(1)


def event(kind: str = "message", *, user: str = OPERATOR, text: str = "", channel: str = DM, **extra: Any) -> dict:  # type: ignore[type-arg]
    number = next(_events)
    inner = {"type": kind, "user": user, "text": text, "channel": channel, "ts": f"1700000100.{number:06d}"}
    if kind == "message" and channel.startswith("D"):
        inner["channel_type"] = "im"
    return {
        "token": "legacy",
        "team_id": "T1",
        "api_app_id": "A1",
        "type": "event_callback",
        "event_id": f"Ev{number:08d}",
        "event_time": int(time.time()),
        "event": {**inner, **extra},
        "authorizations": [{"team_id": "T1", "user_id": BOT_USER, "is_bot": True}],
    }


def click(action_id: str, value: str, *, user: str = OPERATOR, ts: str = "", channel: str = DM) -> dict:  # type: ignore[type-arg]
    number = next(_events)
    return {
        "type": "block_actions",
        "user": {"id": user, "username": "sam" if user == OPERATOR else "eve", "team_id": "T1"},
        "api_app_id": "A1",
        "token": "legacy",
        "team": {"id": "T1", "domain": "acme"},
        "container": {"type": "message", "message_ts": ts, "channel_id": channel},
        "trigger_id": f"trigger-{number}",
        "channel": {"id": channel, "name": "directmessage"},
        "message": {"type": "message", "ts": ts, "text": "card"},
        "response_url": "http://127.0.0.1:1/unused",
        "actions": [
            {"action_id": action_id, "block_id": "b", "value": value, "type": "button", "action_ts": f"17.{number}"}
        ],
    }


def command(text: str, *, user: str = OPERATOR, channel: str = DM) -> dict[str, str]:
    number = next(_events)
    return {
        "token": "legacy",
        "team_id": "T1",
        "team_domain": "acme",
        "channel_id": channel,
        "user_id": user,
        "user_name": "sam",
        "command": "/deputy",
        "text": text,
        "api_app_id": "A1",
        "response_url": "http://127.0.0.1:1/unused",
        "trigger_id": f"trigger-{number}",
    }


def signed(body: str, *, secret: str = SIGNING_SECRET, age_s: int = 0) -> dict[str, str]:
    stamp = str(int(time.time()) - age_s)
    signature = SignatureVerifier(secret).generate_signature(timestamp=stamp, body=body)
    return {"X-Slack-Request-Timestamp": stamp, "X-Slack-Signature": signature or ""}


def as_json(payload: dict[str, Any]) -> tuple[str, str]:
    return json.dumps(payload), "application/json"


def as_form(payload: dict[str, Any]) -> tuple[str, str]:
    """Interactivity: the JSON payload form-encoded as `payload=`; commands: plain form fields."""
    fields = payload if "command" in payload else {"payload": json.dumps(payload)}
    return urlencode(fields), "application/x-www-form-urlencoded"


def main() -> None:
    """`python -m tests.fakes.slack_api PORT`: the fake on its own (benchmarks run it in a process)."""
    import sys

    fake = FakeSlack(port=int(sys.argv[1]))
    app = web.Application()
    app.router.add_post("/api/{method}", fake.handle)
    web.run_app(app, host="127.0.0.1", port=fake.port, print=None, access_log=None)


if __name__ == "__main__":
    main()
