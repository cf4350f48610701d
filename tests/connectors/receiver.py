"""A small webhook receiver for tests: records each request and answers from a script of statuses."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field

from aiohttp import web

from memory.embedded import free_port
from tests.conftest import serve


@dataclass
class Received:
    key: str
    timestamp: str
    signature: str
    body: bytes


@dataclass
class Receiver:
    statuses: list[int] = field(default_factory=list)  # answered in order, then 200
    delay_s: float = 0.0
    on_request: Callable[[], None] | None = None
    requests: list[Received] = field(default_factory=list)
    port: int = field(default_factory=free_port)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/in"

    async def handle(self, request: web.Request) -> web.Response:
        h = request.headers
        self.requests.append(
            Received(
                h.get("Idempotency-Key", ""),
                h.get("X-Deputy-Timestamp", ""),
                h.get("X-Deputy-Signature", ""),
                await request.read(),
            )
        )
        if self.on_request:
            hook, self.on_request = self.on_request, None
            hook()
        await asyncio.sleep(self.delay_s)
        status = self.statuses.pop(0) if self.statuses else 200
        return web.Response(status=status, text="nope: bad field\nmore" if status == 400 else "ok")

    async def start(self) -> web.AppRunner:
        app = web.Application()
        app.router.add_post("/in", self.handle)
        return await serve(app, self.port)
