"""A fake Telegram Bot API, written as a small aiohttp app that answers like the real one for the methods
Deputy uses. Tests push updates into `getUpdates`, read what was sent from `calls`, and inject outages."""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from memory.embedded import free_port
from tests.conftest import serve

TOKEN = "123456:TEST-token"
BOT = {"id": 123456, "is_bot": True, "first_name": "Deputy", "username": "deputy_bot"}
OPERATOR_ID, STRANGER_ID = 4242, 777
CHAT = 4242


@dataclass
class Call:
    method: str
    params: dict[str, Any]
    at: float = field(default_factory=time.monotonic)
    """When it arrived: tests check the pace of a task's edits."""

    def markup(self) -> list[list[dict[str, Any]]]:
        """A card's keyboard; a running task's Stop (`x:`) is apart: `stop()`."""
        return [row for row in self.keyboard() if not any(b["callback_data"].startswith("x:") for b in row)]

    def keyboard(self) -> list[list[dict[str, Any]]]:
        return list(self.params.get("reply_markup", {}).get("inline_keyboard", []))

    def stop(self) -> list[str]:
        return [b["callback_data"] for row in self.keyboard() for b in row if b["callback_data"].startswith("x:")]


@dataclass
class FakeBotApi:
    port: int = field(default_factory=free_port)
    calls: list[Call] = field(default_factory=list)
    fail: dict[str, list[tuple[int, dict[str, Any]]]] = field(default_factory=dict)
    messages: dict[tuple[str, int], str] = field(default_factory=dict)
    hold: dict[str, asyncio.Event] = field(default_factory=dict)
    """A method named here answers only once its event is set: a Bot API that is slow to answer."""
    _updates: asyncio.Queue[dict[str, Any]] = field(default_factory=asyncio.Queue)
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(100))
    _update_ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}/bot"

    def sent(self, method: str = "", chat: int | None = None) -> list[Call]:
        return [
            c
            for c in self.calls
            if (not method or c.method == method) and (chat is None or str(c.params.get("chat_id")) == str(chat))
        ]

    def fail_next(self, method: str, status: int, times: int = 1, **extra: Any) -> None:
        self.fail.setdefault(method, []).extend([(status, extra)] * times)

    # ---- updates the tests send ---------------------------------------------------------------------

    def text_update(
        self, text: str, *, user: int = OPERATOR_ID, chat: int = CHAT, kind: str = "private", reply_to: int = 0
    ) -> dict:  # type: ignore[type-arg]
        """`reply_to`: the message this one answers (a reply to a ForceReply prompt)."""
        where = {"id": chat, "type": kind, **({"first_name": "Sam"} if kind == "private" else {"title": "Ops"})}
        answered = {"message_id": reply_to, "date": 1_700_000_000, "chat": where, "from": BOT, "text": "prompt"}
        return {
            "update_id": next(self._update_ids),
            "message": {
                "message_id": next(self._ids),
                "date": 1_700_000_000,
                "chat": where,
                "from": {"id": user, "is_bot": False, "first_name": "Sam", "username": f"user{user}"},
                "text": text,
                **_entities(text),
                **({"reply_to_message": answered} if reply_to else {}),
            },
        }

    def click_update(self, data: str, *, message_id: int, user: int = OPERATOR_ID, chat: int = CHAT) -> dict:  # type: ignore[type-arg]
        update_id = next(self._update_ids)
        return {
            "update_id": update_id,
            "callback_query": {
                "id": f"cb{update_id}",
                "from": {"id": user, "is_bot": False, "first_name": "Sam", "username": f"user{user}"},
                "chat_instance": "1",
                "data": data,
                "message": {
                    "message_id": message_id,
                    "date": 1_700_000_000,
                    "chat": {"id": chat, "type": "private", "first_name": "Sam"},
                    "from": BOT,
                    "text": self.messages.get((str(chat), message_id), "card"),
                },
            },
        }

    async def push(self, update: dict[str, Any]) -> None:
        await self._updates.put(update)

    # ---- the API ------------------------------------------------------------------------------------

    async def handle(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != TOKEN:
            return web.json_response({"ok": False, "error_code": 401, "description": "Unauthorized"}, status=401)
        method = request.match_info["method"]
        params = await _params(request)
        if method in self.hold:
            await self.hold[method].wait()
        planned = self.fail.get(method)
        if planned:
            status, extra = planned.pop(0)
            return web.json_response(
                {"ok": False, "error_code": status, "description": f"fake failure {status}", **extra}, status=status
            )
        if method == "getUpdates":
            return web.json_response({"ok": True, "result": await self._next_updates(params)})
        self.calls.append(Call(method, params))
        return web.json_response({"ok": True, "result": self._answer(method, params)})

    async def _next_updates(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        try:
            first = await asyncio.wait_for(self._updates.get(), timeout=min(float(params.get("timeout", 0)), 1.0))
        except TimeoutError:
            return []
        batch = [first]
        while not self._updates.empty():
            batch.append(self._updates.get_nowait())
        return batch

    def _answer(self, method: str, params: dict[str, Any]) -> Any:
        if method == "getMe":
            return BOT
        if method in ("sendMessage", "editMessageText"):
            chat = str(params["chat_id"])
            message_id = int(params.get("message_id") or next(self._ids))
            self.messages[(chat, message_id)] = params["text"]
            return {
                "message_id": message_id,
                "date": 1_700_000_000,
                "chat": {"id": int(chat), "type": "private"},
                "from": BOT,
                "text": params["text"],
            }
        return True


def _chat_name(kind: str) -> dict[str, str]:
    return {"first_name": "Sam"} if kind == "private" else {"title": "Ops"}


def _entities(text: str) -> dict[str, Any]:
    if text.startswith("/"):
        return {"entities": [{"type": "bot_command", "offset": 0, "length": len(text.split()[0])}]}
    return {}


async def _params(request: web.Request) -> dict[str, Any]:
    if request.content_type == "application/json":
        return dict(await request.json())
    form = await request.post()
    out: dict[str, Any] = {}
    for key, value in form.items():
        text = str(value)
        try:
            out[key] = json.loads(text) if text[:1] in "{[" else text
        except json.JSONDecodeError:
            out[key] = text
    return out


async def start(api: FakeBotApi) -> web.AppRunner:
    app = web.Application()
    app.router.add_route("*", "/bot{token}/{method}", api.handle)
    return await serve(app, api.port)


def main() -> None:
    """`python -m tests.fakes.telegram_api PORT`: the fake on its own (benchmarks run it in a process)."""
    import sys

    api = FakeBotApi(port=int(sys.argv[1]))
    app = web.Application()
    app.router.add_route("*", "/bot{token}/{method}", api.handle)
    web.run_app(app, host="127.0.0.1", port=api.port, print=None, access_log=None)


if __name__ == "__main__":
    main()
