"""`mcp.call`: a call of a tool on an MCP server declared in `DEPUTY_DATA_DIR/mcp.yaml` (docs/tools.md). The
tools are listed from the servers (at first use, again when older than a minute, when a server says its list
changed, and always right before a call or a grant is used); each is `allow`, `ask` or `deny`
(config/mcp_file.py). A call that may change anything is an action like any other: on a card, approved (or
covered by a standing grant), handed over right before the request leaves, applied once or flagged "may not
have happened". MCP has no idempotency keys, so `resend_safe` is False."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from redis.asyncio import Redis

from config.mcp_file import McpFile, mcp_path, read
from connectors.deadlines import deadline_s
from connectors.mcp_args import arguments, result_text
from connectors.mcp_grants import Grant, GrantBook
from connectors.mcp_session import Sessions, ToolInfo
from orchestrator.errors import BadRequest, ConnectorError, PermanentConnectorError, TransientConnectorError
from orchestrator.kinds import Check, Preview, Traits
from orchestrator.ports import HandOver, no_hand_over
from orchestrator.text import one_line

log = logging.getLogger("deputy.mcp")
TRAITS = Traits("mcp.call", outward=True, minutes_saved=3.0, noun="tool call", done="made")
FRESH_S = 60.0
"""A server's tool list is listed again when older than this (or when it says it changed)."""
KEY_NAMES = ("idempotency_key", "idempotencyKey", "idempotency-key")
"""An argument by one of these names is the tool's own idempotency key: MCP has none of its own."""
SHOWN_CHARS = 300
"""The most of a tool's answer an outcome line shows: it is the server's text, untrusted, never acted on."""


@dataclass(frozen=True)
class Values:
    """Where mcp.yaml is, and the job timeout each call's deadline stays under."""

    data_dir: Path = Path(".deputy")
    job_timeout_s: int = 600


def build(values: Values, redis: Redis) -> McpConnector:
    """Always built (the `tool` playbook names its kind); with no mcp.yaml it has no tools and says so."""
    return McpConnector(mcp_path(values.data_dir), redis, values.job_timeout_s)


async def doctor(values: Values) -> list[Check]:
    """Each server: connect, list its tools, say how many and how they are treated."""
    connector = McpConnector(mcp_path(values.data_dir), None, values.job_timeout_s)
    if not connector.file.servers:
        return [Check("MCP", True, f"no servers ({connector.path} not present): no tools", info=True)]
    try:
        await connector.refresh(force=True)
        return [_server_check(connector, name) for name in connector.file.servers]
    finally:
        await connector.close()


def _server_check(connector: McpConnector, name: str) -> Check:
    server = connector.file.servers[name]
    if name in connector.errors:
        return Check(f"MCP {name}", False, f"{server.where}: {connector.errors[name]}; check {connector.path}")
    tools = [t for t in connector.tools.values() if t.server == name]
    counts = {p: sum(1 for t in tools if connector.policy(t) == p) for p in ("allow", "ask", "deny")}
    said = ", ".join(f"{n} {p}" for p, n in counts.items() if n)
    return Check(f"MCP {name}", True, f"{server.where} answers: {len(tools)} tools ({said or 'none'})")


class McpConnector:
    kind, traits = TRAITS.kind, TRAITS
    resend_safe = False

    def __init__(self, path: Path, redis: Redis | None, job_timeout_s: int = 600) -> None:
        self.path, self.job_timeout_s = path, job_timeout_s
        self.grants = GrantBook(redis) if redis is not None else None
        self.tools: dict[str, ToolInfo] = {}
        self.errors: dict[str, str] = {}
        self.listed: dict[str, float] = {}
        self._sessions: Sessions | None = None
        self._listing: asyncio.Task[None] | None = None
        self._for: McpFile | None = None

    @property
    def file(self) -> McpFile:
        return read(self.path)

    @property
    def sessions(self) -> Sessions:
        """The sessions for the file as it is now: a changed file closes nothing mid-call, it starts afresh."""
        file = self.file
        if self._sessions is None or self._for is not file:
            self._sessions, self._for = Sessions(file.servers, self._changed), file
        return self._sessions

    def _changed(self, server: str) -> None:
        self.listed.pop(server, None)

    def policy(self, tool: ToolInfo) -> str:
        return self.file.policy(tool.key, tool.read_only)

    # ---- the tool list ------------------------------------------------------------------------------

    async def refresh(self, *, force: bool = False, server: str | None = None) -> None:
        """List the servers' tools where the list is older than FRESH_S (all of them with `force`)."""
        names = [server] if server else list(self.file.servers)
        await asyncio.gather(*(self._list(n) for n in names if force or self._old(n)))

    def _old(self, server: str) -> bool:
        return time.monotonic() - self.listed.get(server, -FRESH_S) >= FRESH_S

    async def _list(self, server: str, tries: int = 2) -> None:
        """A kept session the server has forgotten (it restarted) fails once: listed again on a new one."""
        try:
            found = await asyncio.wait_for(self.sessions.tools(server), self._deadline(server))
        except Exception as err:
            self.errors[server] = _why(err)
            await self.sessions.drop(server)
            if tries > 1:
                await self._list(server, tries - 1)
            return
        self.errors.pop(server, None)
        self.tools = {k: t for k, t in self.tools.items() if t.server != server} | {t.key: t for t in found}
        self.listed[server] = time.monotonic()

    def _list_soon(self, server: str) -> None:
        with contextlib.suppress(RuntimeError):  # no running loop: nothing to list on
            self._listing = asyncio.get_running_loop().create_task(self.refresh(server=server))

    def offered(self) -> list[ToolInfo]:
        """The tools a model may see: every listed tool but the denied ones."""
        return [t for t in self.tools.values() if t.server in self.file.servers and self.policy(t) != "deny"]

    def menu(self) -> str:
        """The tools for a drafting prompt, one a line: name, whether it is read-only, description, arguments."""
        lines = []
        for tool in self.offered():
            props = tool.schema.get("properties", {})
            args = ", ".join(f"{k}: {v.get('type', 'any')}" for k, v in props.items() if isinstance(v, dict))
            mark = " (read-only)" if tool.read_only else ""
            lines.append(f"- {tool.key}{mark}: {one_line(tool.description, 200)} | arguments: {{{args}}}")
        return "\n".join(lines) or "(no MCP tools are available)"

    # ---- the connector contract ---------------------------------------------------------------------

    def validate(self, fields: dict[str, Any]) -> dict[str, Any]:
        info = self.tool(str(fields.get("tool", "")).strip())
        return {
            "tool": info.key,
            "arguments": arguments(fields.get("arguments"), info.schema),
            "seen": info.fingerprint,
        }

    def tool(self, key: str) -> ToolInfo:
        """The listed, not denied tool `server/tool`, or `BadRequest` saying why not."""
        server, _, name = key.partition("/")
        if server not in self.file.servers:
            known = ", ".join(sorted(self.file.servers)) or f"none: add them to {self.path}"
            raise BadRequest(f"There is no MCP server {server!r} (servers: {known}).")
        info = self.tools.get(key)
        if info is None and server not in self.listed and server not in self.errors:
            self._list_soon(server)  # a process that has not needed this server yet (the web one, for /edit)
            raise BadRequest(f"Deputy is listing {server}'s tools now; try again in a few seconds.")
        if info is None:
            why = self.errors.get(server)
            raise BadRequest(
                f"MCP server {server} can't be reached ({why})." if why else f"{server} has no tool {name!r}."
            )
        if self.policy(info) == "deny":
            raise BadRequest(f"{key} is denied in {self.path.name}: Deputy never calls it.")
        return info

    def preview(self, fields: dict[str, Any]) -> Preview:
        server = fields["tool"].partition("/")[0]
        body = "\n".join(f"{k}: {_shown(v)}" for k, v in fields["arguments"].items()) or "(no arguments)"
        summary = f"Call {fields['tool']} on MCP server {server}"
        return Preview(summary, target=f"{server} (MCP)", body=body, grant=fields["tool"])

    def unavailable(self) -> str:
        return "" if self.file.servers else f"no MCP servers are set up ({self.path})"

    async def apply(self, fields: dict[str, Any], idempotency_key: str, handing_over: HandOver = no_hand_over) -> str:
        """Listed again first (unambiguous: nothing was called), then handed over, then the one request."""
        key = fields["tool"]
        server, _, name = key.partition("/")
        info = await self._current(key)
        if info.fingerprint != fields.get("seen"):
            raise PermanentConnectorError(
                f"{key} changed since the card was drafted (its description or input "
                "schema); nothing was called — ask again to see the tool as it is now"
            )
        try:
            client = await self.sessions.client(server)
        except Exception as err:
            raise TransientConnectorError(f"can't reach MCP server {server}: {_why(err)}") from err
        await handing_over()
        args = _keyed(fields["arguments"], info.schema, idempotency_key)
        return f"Called {key}: {await self._call(client, server, name, args)}"

    async def _current(self, key: str) -> ToolInfo:
        server = key.partition("/")[0]
        if server not in self.file.servers:
            raise PermanentConnectorError(f"MCP server {server} is no longer in {self.path.name}")
        await self.refresh(force=True, server=server)
        if server in self.errors:
            raise TransientConnectorError(f"can't reach MCP server {server}: {self.errors[server]}")
        try:
            return self.tool(key)
        except BadRequest as err:
            raise PermanentConnectorError(str(err)) from None

    async def _call(self, client: Any, server: str, name: str, args: dict[str, Any]) -> str:
        """After the hand-over: a broken connection or no answer in time may have left the tool run."""
        limit = self._deadline(server)
        try:
            result = await asyncio.wait_for(client.call_tool(name, args, read_timeout_seconds=limit), limit + 1)
        except Exception as err:
            await self.sessions.drop(server)
            if isinstance(err, TimeoutError) or _timed_out(err):
                raise ConnectorError(f"{server}/{name} gave no answer within {limit:.0f} s; it may have run") from None
            raise ConnectorError(f"the call to {server}/{name} was cut off ({_why(err)})") from err
        said = one_line(result_text(result), SHOWN_CHARS) or "(no output)"
        if getattr(result, "is_error", False):
            raise PermanentConnectorError(f"{server}/{name} answered with an error: {said}")
        return f"“{said}”"

    def _deadline(self, server: str) -> float:
        found = self.file.servers.get(server)
        return deadline_s(self.job_timeout_s, found.timeout if found else 60.0)

    # ---- while drafting: read-only tools ----------------------------------------------------------

    def readable(self, fields: dict[str, Any]) -> bool:
        """A read-only tool mcp.yaml allows: an agent may call it while drafting, no card needed."""
        info = self.tools.get(str(fields.get("tool", "")))
        return info is not None and info.read_only and self.policy(info) == "allow"

    async def read(self, fields: dict[str, Any]) -> str:
        """Call an allowed read-only tool now; its answer is the server's text (untrusted data)."""
        key = fields["tool"]
        server, _, name = key.partition("/")
        client = await self.sessions.client(server)
        return await self._call(client, server, name, fields["arguments"])

    # ---- grants ---------------------------------------------------------------------------------------

    async def granted(self, fields: dict[str, Any]) -> str:
        """The rule that approves this call without a tap — mcp.yaml's `allow`, or a standing grant for the tool
        as it is now (listed again first; a changed tool suspends its grant) — or ''."""
        key = fields["tool"]
        info = self.tools.get(key)
        if info is not None and self.policy(info) == "allow":
            return f"mcp.yaml allows {key}"
        found = await self.grants.standing(key) if self.grants else None
        if found is None or found.status != "active":
            return ""
        await self.refresh(force=True, server=key.partition("/")[0])
        now = self.tools.get(key)
        if now is None or now.fingerprint != found.fingerprint:
            why = "the server no longer lists the tool" if now is None else "its description or input schema changed"
            assert self.grants is not None
            await self.grants.suspend(
                found, f"{why} since it was allowed; Always allow on its next card allows it again"
            )
            return ""
        return f"grant {found.id}" if fields.get("seen") == found.fingerprint else ""

    async def grant(self, fields: dict[str, Any], *, grant_id: str, by: str, task_id: str, proposal_id: str) -> str:
        """Always allow: the tool as the card showed it, from now on without a tap."""
        if self.grants is None:
            raise BadRequest("grants need Deputy's Redis")
        at = datetime.now(UTC).isoformat(timespec="seconds")
        made = Grant(grant_id, fields["tool"], str(fields.get("seen", "")), by, at, task_id, proposal_id)
        await self.grants.create(made)
        return f"{fields['tool']} is always allowed from now on (grant {grant_id}; /grants revoke {grant_id} ends it)"

    async def revoke(self, grant_id: str, by: str) -> str:
        found = await self.grants.get(grant_id) if self.grants else None
        if found is None or self.grants is None:
            raise BadRequest(f"No grant {grant_id!r}. /grants lists them.")
        if found.status == "revoked":
            return f"Grant {grant_id} ({found.tool}) was already revoked {found.why}."
        await self.grants.revoke(found, by)
        return f"Revoked grant {grant_id}: {found.tool} needs your tap again."

    async def grants_text(self) -> str:
        found = [g for g in await self.grants.all() if g.status != "revoked"] if self.grants else []
        if not found:
            return "No standing grants. **Always allow** on a tool's card makes one."
        return "\n".join(["Always-allow grants (/grants revoke <id> ends one):", *(g.line() for g in found)])

    async def tools_text(self) -> str:
        if not self.file.servers:
            return f"No MCP servers: declare them in {self.path} (docs/tools.md)."
        await self.refresh(force=True)
        lines = [f"{s}: can't list its tools ({why})" for s, why in self.errors.items()]
        for tool in sorted(self.tools.values(), key=lambda t: t.key):
            mark = " · read-only" if tool.read_only else ""
            lines.append(f"{tool.key} · {self.policy(tool)}{mark} — {one_line(tool.description, 80)}")
        return "\n".join(["MCP tools (allow: used while drafting · ask: on a card · deny: never):", *lines])

    async def close(self) -> None:
        if self._sessions is not None:
            await self._sessions.close()


def _keyed(args: dict[str, Any], schema: dict[str, Any], key: str) -> dict[str, Any]:
    """A tool that takes an idempotency key gets the action's own (`proposal:index`), unless the card set one."""
    props = schema.get("properties") if isinstance(schema.get("properties"), dict) else {}
    named = next((n for n in KEY_NAMES if n in (props or {})), None)
    return {**args, named: key} if named and not args.get(named) else args


def _timed_out(err: Exception) -> bool:
    """The SDK's own read timeout (an `MCPError` with REQUEST_TIMEOUT): imported only then, as the SDK is heavy."""
    from mcp_types import REQUEST_TIMEOUT

    return getattr(getattr(err, "error", None), "code", None) == REQUEST_TIMEOUT


def _shown(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def _why(err: BaseException) -> str:
    while isinstance(err, BaseExceptionGroup) and err.exceptions:
        err = err.exceptions[0]
    return (str(err) or type(err).__name__)[:200]
