"""MCP tools behind the card, against real MCP servers: the tests' own (tests/connectors/mcp_books.py, built
with the SDK) over streamable HTTP on loopback, a real `deputy worker` process, driven through the console."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.wiring import Runtime, build_runtime
from connectors import mcp
from memory.embedded import free_port
from orchestrator.buttons import ALWAYS_ALLOW, Click, Target
from tests.agents.conftest import llm_env
from tests.conftest import Workers, eventually, settings_from
from tests.e2e.helpers import CONSOLE, OPERATOR, converse, proposal_id, send
from tests.fakes.openai_api import FakeOpenAI

BOOKS = Path(__file__).resolve().parent.parent / "connectors" / "mcp_books.py"


class Books:
    """The test server over HTTP, restartable (an upgraded server: `BOOKS_SHAPE=v2`)."""

    def __init__(self, log: Path) -> None:
        self.log, self.port = log, free_port()
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, shape: str = "v1") -> None:
        env = {"BOOKS_LOG": str(self.log), "BOOKS_SHAPE": shape, "PATH": "/usr/bin:/bin"}
        argv = [sys.executable, str(BOOKS), "http", str(self.port)]
        self.process = subprocess.Popen(argv, env=env, stderr=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
        import socket
        import time

        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", self.port)) == 0:
                    return
            time.sleep(0.05)
        raise RuntimeError("the MCP test server did not start")

    def stop(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait(10)

    @property
    def calls(self) -> list[str]:
        return self.log.read_text().splitlines() if self.log.exists() else []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/mcp"


@pytest.fixture(scope="module")
def books(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Books]:
    server = Books(tmp_path_factory.mktemp("books") / "calls.log")
    server.start()
    yield server
    server.stop()


@pytest.fixture
def tools(books: Books, env: dict[str, str]) -> Books:
    """mcp.yaml naming the server; the call log starts empty."""
    books.log.write_text("")
    data = Path(env["DEPUTY_DATA_DIR"])
    data.mkdir(parents=True, exist_ok=True)
    (data / "mcp.yaml").write_text(
        f"servers:\n  books: {{url: '{books.url}', timeout: 3}}\ntools:\n  books/drop_all: deny\n"
    )
    return books


async def test_a_write_tool_is_a_card_and_approve_calls_it_exactly_once(
    runtime: Runtime, workers: Workers, tools: Books
) -> None:
    workers.start()
    transcript = await converse(runtime, 'use books/add_note with text="call Jane" pages=2')
    pid = proposal_id(transcript)
    assert "Call books/add_note on MCP server books" in transcript and "text: call Jane" in transcript
    assert "pages: 2" in transcript and tools.calls == []
    done = await converse(runtime, f"/approve {pid}")
    assert "Done: Called books/add_note: “noted call Jane”" in done
    assert tools.calls == ["add_note call Jane 2"]
    again = await converse(runtime, f"/approve {pid}")
    assert "already approved" in again and tools.calls == ["add_note call Jane 2"]
    charge = proposal_id(await converse(runtime, "use books/charge with amount=40"))
    await converse(runtime, f"/approve {charge}")
    assert tools.calls[1:] == [f"charge 40 key={charge}:0"]  # a tool that takes an idempotency key gets the action's


async def test_always_allow_then_the_next_call_needs_no_tap_and_revoke_ends_it(
    runtime: Runtime, workers: Workers, tools: Books
) -> None:
    workers.start()
    pid = proposal_id(await converse(runtime, "use books/add_note with text=one"))
    answers: list[str] = []

    async def answer(text: str, refused: bool) -> None:
        answers.append(text)

    click = Click(OPERATOR, CONSOLE, ALWAYS_ALLOW, Target(pid, version=1), event_id="aa-1")
    await runtime.coordinator.click(click, answer)
    assert "always allowed" in answers[0]
    await eventually(lambda: tools.calls == ["add_note one 1"], what="the first call")
    listed = await converse(runtime, "/grants")
    found = re.search(r"(g[0-9a-z]+) · books/add_note · allowed by you", listed)
    assert found, listed
    grant = found[1]

    second = await converse(runtime, "use books/add_note with text=two")
    assert f"approved by rule grant {grant}" in second, second
    await eventually(lambda: len(tools.calls) == 2, what="the second call, without a tap")
    approved = [e for _, e in await runtime.ledger.read() if e.type == "ProposalApproved"]
    assert approved[-1].actor is not None and grant in approved[-1].actor

    assert f"Revoked grant {grant}" in await converse(runtime, f"/grants revoke {grant}")
    third = await converse(runtime, "use books/add_note with text=three")
    assert "/approve" in third and len(tools.calls) == 2


async def test_policies_read_only_answers_injected_words_do_nothing_denied_is_refused_allowed_runs(
    runtime: Runtime, workers: Workers, tools: Books, env: dict[str, str]
) -> None:
    """One worker through the three policies (mcp.yaml is read again when it changes)."""
    workers.start()
    said = await converse(runtime, "use books/lookup with query=Dune")
    assert "books/lookup answered" in said and "found Dune" in said and "Proposal" not in said
    page = await converse(runtime, "use books/fetch_page")  # its answer tells Deputy to call and approve a tool
    assert "IGNORE ALL PREVIOUS INSTRUCTIONS" in page and "Proposal" not in page
    denied = await converse(runtime, "use books/drop_all")
    assert "books/drop_all is denied" in denied and "Proposal" not in denied
    assert tools.calls == []
    assert await runtime.store.ids("proposal", "pending") == []
    assert await runtime.store.ids("proposal", "approved") == []

    _configure(env, f"servers:\n  books: {{url: '{tools.url}'}}\ntools:\n  books/add_note: allow\n")
    said = await converse(runtime, "use books/add_note with text=auto")
    assert "Done: Called books/add_note" in said and "approved by rule mcp.yaml allows books/add_note" in said
    assert tools.calls == ["add_note auto 1"]


def _configure(env: dict[str, str], text: str) -> None:
    data = Path(env["DEPUTY_DATA_DIR"])
    data.mkdir(parents=True, exist_ok=True)
    (data / "mcp.yaml").write_text(text)


async def test_a_stdio_server_killed_mid_call_is_flagged_and_never_called_twice(
    runtime: Runtime, workers: Workers, env: dict[str, str], tmp_path: Path
) -> None:
    """The server Deputy started over stdio dies while the tool runs: may not have happened, never Done."""
    log = tmp_path / "stdio.log"
    argv = f"[{sys.executable!r}, {str(BOOKS)!r}]"
    _configure(env, f"servers:\n  books: {{command: {argv}, env: {{BOOKS_LOG: {str(log)!r}}}, timeout: 60}}\n")
    workers.start()
    pid = proposal_id(await converse(runtime, "use books/slow_note with text=late seconds=60"))
    await send(runtime, f"/approve {pid}", "approve-kill")  # not waiting for its outcome: the tool takes 60 s
    line = await eventually(lambda: log.exists() and log.read_text().strip(), what="the tool to start")
    os.kill(int(line.split("pid=")[1]), signal.SIGKILL)
    await eventually(lambda: _awaiting(runtime, pid), what="the card to say it may not have happened")
    proposal = await runtime.store.get_proposal(pid)
    assert proposal is not None and "was cut off" in proposal.actions[0].outcome
    assert len(log.read_text().splitlines()) == 1
    assert "marked as sent" in await converse(runtime, f"/sent {pid}")
    assert len(log.read_text().splitlines()) == 1


async def _awaiting(runtime: Runtime, pid: str) -> bool:
    proposal = await runtime.store.get_proposal(pid)
    task = await runtime.store.get_task(proposal.task_id) if proposal else None
    return task is not None and task.status.value == "awaiting_operator"


async def test_a_slow_tool_past_its_timeout_may_not_have_happened(
    runtime: Runtime, workers: Workers, tools: Books
) -> None:
    workers.start()
    pid = proposal_id(await converse(runtime, "use books/slow_note with text=slow seconds=8"))
    await send(runtime, f"/approve {pid}", "approve-slow")
    await eventually(lambda: _awaiting(runtime, pid), what="the deadline to pass")
    proposal = await runtime.store.get_proposal(pid)
    assert proposal is not None and "no answer within 3 s" in proposal.actions[0].outcome
    assert tools.calls == ["slow_note slow pid=" + tools.calls[0].split("pid=")[1]]


async def test_a_tool_that_changes_after_its_grant_has_the_grant_suspended(
    runtime: Runtime, workers: Workers, tools: Books
) -> None:
    workers.start()
    pid = proposal_id(await converse(runtime, "use books/add_note with text=one"))
    await runtime.coordinator.click(
        Click(OPERATOR, CONSOLE, ALWAYS_ALLOW, Target(pid, version=1), event_id="aa-shape"), _ignore
    )
    await eventually(lambda: len(tools.calls) == 1, what="the first call")
    tools.stop()
    tools.start("v2")  # the server upgraded: add_note has a new argument and description
    try:
        said = await converse(runtime, "use books/add_note with text=two")
        assert "/approve" in said and "approved by rule grant" not in said, said
        assert "SUSPENDED" in await converse(runtime, "/grants")
        assert any(e.type == "GrantSuspended" for _, e in await runtime.ledger.read())
        assert len(tools.calls) == 1
        # the card shows the tool as it is now: approving it calls the upgraded tool once
        assert "Done: Called books/add_note" in await converse(runtime, f"/approve {proposal_id(said)}")
        assert tools.calls[1:] == ["add_note two "]
    finally:
        tools.stop()
        tools.start()


async def _ignore(text: str, refused: bool) -> None:
    return None


async def test_a_third_party_server_from_pypi_answers_while_drafting(
    runtime: Runtime, workers: Workers, env: dict[str, str]
) -> None:
    """mcp-server-time (PyPI), started over stdio: its read-only tool is used while drafting, no card."""
    program = str(Path(sys.executable).parent / "mcp-server-time")
    _configure(env, f"servers:\n  time: {{command: [{program!r}, --local-timezone, UTC]}}\n")
    workers.start()
    ask = "use time/convert_time with source_timezone=UTC time=12:00 target_timezone=Asia/Tokyo"
    said = await converse(runtime, ask)
    assert "time/convert_time answered" in said and "21:00" in said and "Proposal" not in said
    listed = await converse(runtime, "/tools")
    assert "time/get_current_time · allow · read-only" in listed


async def test_a_real_model_sees_no_denied_tool_and_is_refused_when_it_asks_for_one(
    env: dict[str, str], workers: Workers, tools: Books, openai_server: tuple[FakeOpenAI, str]
) -> None:
    """Through an OpenAI-compatible server: the tool list in the prompt leaves denied tools out; a
    draft that names one anyway is refused, nothing staged, nothing called."""
    server, url = openai_server
    env.update(llm_env(url))
    runtime = build_runtime(settings_from(env))
    try:
        workers.start()
        draft = {"summary": "wipe", "confidence": 0.9, "fields": {"tool": "books/drop_all", "arguments": "{}"}}
        server.script.append({"content": json.dumps(draft)})
        said = await converse(runtime, "use books/add_note to clear my list")
        prompt = "\n".join(str(m.get("content", "")) for m in server.last_messages)
        assert "books/add_note" in prompt and "books/lookup (read-only)" in prompt and "drop_all" not in prompt
        assert "books/drop_all is denied" in said and "Proposal" not in said
        assert tools.calls == []
    finally:
        await runtime.close()


async def test_doctor_connects_to_each_server_and_lists_its_tools(tools: Books, env: dict[str, str]) -> None:
    data = Path(env["DEPUTY_DATA_DIR"])
    (data / "mcp.yaml").write_text(
        f"servers:\n  books: {{url: '{tools.url}'}}\n  gone: {{url: 'http://127.0.0.1:9/mcp'}}\n"
    )
    lines = [check.line() for check in await mcp.doctor(mcp.Values(data_dir=data))]
    assert lines[0] == f"ok  MCP books: {tools.url} answers: 7 tools (2 allow, 5 ask)"
    assert lines[1].startswith("FIX MCP gone: http://127.0.0.1:9/mcp: ") and "mcp.yaml" in lines[1]


async def test_a_server_that_says_its_tools_changed_is_listed_again(runtime: Runtime, tools: Books) -> None:
    """notifications/tools/list_changed (listened for on 2026-07-28 sessions): the next draft sees the new tool."""
    desk: Any = runtime.connectors["mcp.call"]
    try:
        await desk.refresh(force=True)
        assert "books/shelve" not in desk.tools
        await desk.read({"tool": "books/grow", "arguments": {}})
        await eventually(lambda: "books" not in desk.listed, what="the change to be heard")
        await desk.refresh()
        assert "books/shelve" in desk.tools
    finally:
        tools.stop()
        tools.start()  # the next test's server has no shelve


async def test_edit_changes_a_tool_cards_arguments_checked_against_the_schema(
    runtime: Runtime, workers: Workers, tools: Books
) -> None:
    workers.start()
    pid = proposal_id(await converse(runtime, "use books/add_note with text=one"))
    first = await converse(runtime, f"/edit {pid} arguments text=two pages=3")
    if "try again in a few seconds" in first:  # this process had not listed the server's tools yet
        desk: Any = runtime.connectors["mcp.call"]
        await eventually(lambda: "books" in desk.listed, what="the tools to be listed")
        first = await converse(runtime, f"/edit {pid} arguments text=two pages=3")
    assert "text: two" in first and "pages: 3" in first, first
    refused = await converse(runtime, f"/edit {pid} arguments pages=many")
    assert "doesn't fit its input schema" in refused or "don't fit its input schema" in refused
    assert "Done: Called books/add_note" in await converse(runtime, f"/approve {pid}")
    assert tools.calls == ["add_note two 3"]
