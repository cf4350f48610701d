"""Sessions with MCP servers through the official SDK (`mcp.Client`): one live session per server per process,
opened on first use and kept, so a tool call costs one round trip, not a server start. Each session is held by
a task of its own (the SDK's transports hold anyio scopes that must close in the task that opened them); a
session that breaks (the server died, the connection dropped) is dropped and the next use opens a new one."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from config.mcp_file import Server

log = logging.getLogger("deputy.mcp")
OPEN_S = 30.0
"""How long starting a server and its handshake may take."""


@dataclass(frozen=True)
class ToolInfo:
    """A tool as its server lists it. The description and the input schema are the server's words (untrusted):
    their fingerprint says whether the tool is still the one the operator saw."""

    server: str
    name: str
    description: str
    schema: dict[str, Any]
    read_only: bool

    @property
    def key(self) -> str:
        return f"{self.server}/{self.name}"

    @property
    def fingerprint(self) -> str:
        shown = json.dumps({"description": self.description, "schema": self.schema}, sort_keys=True)
        return hashlib.sha256(shown.encode()).hexdigest()[:16]

    def as_json(self) -> dict[str, Any]:
        return {"name": self.name, "description": self.description, "schema": self.schema, "ro": self.read_only}

    @classmethod
    def from_json(cls, server: str, data: dict[str, Any]) -> ToolInfo:
        return cls(server, data["name"], data["description"], data["schema"], bool(data["ro"]))


def tool_info(server: str, tool: Any) -> ToolInfo:
    """An SDK `Tool` in Deputy's terms: `readOnlyHint` is the server's hint, never a guarantee."""
    annotations = getattr(tool, "annotations", None)
    read_only = bool(getattr(annotations, "read_only_hint", False))
    schema = dict(getattr(tool, "input_schema", None) or {"type": "object"})
    return ToolInfo(server, tool.name, (tool.description or "").strip(), schema, read_only)


class Live:
    """One open session, held by its own task until `close` or until it breaks."""

    def __init__(self, name: str, server: Server, on_change: Callable[[str], None]) -> None:
        self.name, self.server, self.on_change = name, server, on_change
        self.client: Any = None
        self.broken = False
        self._ready = asyncio.Event()
        self._stop = asyncio.Event()
        self._error: BaseException | None = None
        self._task: asyncio.Task[None] | None = None

    async def open(self) -> Any:
        self._task = asyncio.create_task(self._hold(), name=f"mcp-{self.name}")
        try:
            await asyncio.wait_for(self._ready.wait(), OPEN_S)
        except TimeoutError:
            await self.close()
            raise ConnectionError(f"MCP server {self.name} did not answer within {OPEN_S:.0f} s") from None
        if self.client is None:
            raise ConnectionError(f"can't connect to MCP server {self.name}: {self._error}") from self._error
        return self.client

    async def _hold(self) -> None:
        from mcp import Client

        try:
            async with Client(self._target(), cache=None, message_handler=self._heard) as client:
                self.client = client
                self._ready.set()
                watching = asyncio.create_task(self._watch(client))
                await self._stop.wait()
                watching.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await watching
        except BaseException as err:
            self._error = err
        finally:
            self.client, self.broken = None, True
            self._ready.set()

    def _target(self) -> Any:
        from mcp.client.stdio import StdioServerParameters

        if self.server.command:
            argv = self.server.command
            return StdioServerParameters(command=argv[0], args=argv[1:], env=self.server.env or None)
        if not self.server.headers:
            return self.server.url
        from mcp.client.streamable_http import streamable_http_client
        from mcp.shared._httpx_utils import create_mcp_http_client

        return streamable_http_client(self.server.url, http_client=create_mcp_http_client(self.server.headers))

    async def _watch(self, client: Any) -> None:
        """On 2026-07-28 sessions a server says its tools changed only to a client that listens for it; an
        older server sends `notifications/tools/list_changed` unasked (`_heard`), and refuses to be listened to."""
        with contextlib.suppress(Exception):
            async with client.listen(tools_list_changed=True) as events:
                async for _ in events:
                    self.on_change(self.name)

    async def _heard(self, message: Any) -> None:
        """A transport fault breaks the session; a changed tool list is listed again before its next use."""
        if isinstance(message, Exception):
            self.broken = True
            return
        if type(message).__name__ == "ToolListChangedNotification":
            self.on_change(self.name)

    async def close(self) -> None:
        self._stop.set()
        if self._task is not None:
            with contextlib.suppress(Exception, asyncio.CancelledError):
                await asyncio.wait_for(asyncio.shield(self._task), 5)
            if not self._task.done():
                self._task.cancel()


class Sessions:
    """The process's sessions, by server name."""

    def __init__(self, servers: dict[str, Server], on_change: Callable[[str], None]) -> None:
        self.servers, self.on_change = servers, on_change
        self.live: dict[str, Live] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    async def client(self, name: str) -> Any:
        """The server's open session, opened (again) where there is none or it broke."""
        lock = self._locks.setdefault(name, asyncio.Lock())
        async with lock:
            live = self.live.get(name)
            if live is not None and not live.broken and live.client is not None:
                return live.client
            if live is not None:
                await live.close()
            live = self.live[name] = Live(name, self.servers[name], self.on_change)
            return await live.open()

    async def drop(self, name: str) -> None:
        """Forget a session whose state is unknown (a call cut off): the next use starts afresh."""
        live = self.live.pop(name, None)
        if live is not None:
            await live.close()

    async def tools(self, name: str) -> list[ToolInfo]:
        client = await self.client(name)
        found: list[ToolInfo] = []
        cursor: str | None = None
        for _ in range(20):
            page = await client.list_tools(cursor=cursor)
            found += [tool_info(name, t) for t in page.tools]
            cursor = page.next_cursor
            if not cursor:
                break
        return found

    async def close(self) -> None:
        for name in list(self.live):
            await self.drop(name)
