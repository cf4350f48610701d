"""Shared test services, all real and all on loopback: a `redis-server` process for the session (flushed per
test), an aiosmtpd server per test, and helpers that run `deputy` commands and workers as processes."""

from __future__ import annotations

import os

os.environ["LITELLM_LOCAL_MODEL_COST_MAP"] = "True"

import asyncio
import contextlib
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import Message
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiosmtpd.controller import Controller
from redis import Redis

from bot.wiring import Runtime, build_runtime
from config.settings import Settings, settings_with
from memory.embedded import executable, free_port, ping
from tests.fakes.openai_api import FakeOpenAI
from tests.imap_server import ImapServer, running

ROOT = Path(__file__).resolve().parent.parent
SENDER = "Sam Operator <sam@example.com>"


def wait_for(predicate: Callable[[], Any], timeout: float = 20.0, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = predicate()
        if result:
            return result
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    directory = tmp_path_factory.mktemp("redis")
    port = free_port()
    process = subprocess.Popen(
        [
            executable(),
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--dir",
            str(directory),
            "--save",
            "",
            "--appendonly",
            "no",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"redis://127.0.0.1:{port}/0"
    wait_for(lambda: ping(url), 10, "redis-server")
    yield url
    process.terminate()
    process.wait(10)


@pytest.fixture
def redis_url(redis_server: str) -> str:
    with Redis.from_url(redis_server) as client:
        client.flushall()
    return redis_server


@dataclass
class Smtp:
    port: int
    messages: list[Message] = field(default_factory=list)
    on_data: Callable[[], None] | None = None

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(message_from_bytes(envelope.content))
        if self.on_data:
            hook, self.on_data = self.on_data, None
            hook()
        return "250 OK"


@pytest.fixture
def smtp() -> Iterator[Smtp]:
    sink = Smtp(free_port())
    controller = Controller(sink, hostname="127.0.0.1", port=sink.port)
    controller.start()
    yield sink
    controller.stop()


@pytest.fixture
def env(redis_url: str, smtp: Smtp, tmp_path: Path) -> dict[str, str]:
    """The environment a Deputy process gets in tests: test Redis, test SMTP, its own data dir, no .env."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("DEPUTY_", "SLACK_", "TELEGRAM_", "REDIS_"))}
    return {
        **clean,
        "REDIS_URL": redis_url,
        "DEPUTY_SMTP_URL": smtp.url,
        "DEPUTY_EMAIL_FROM": SENDER,
        "DEPUTY_DATA_DIR": str(tmp_path / "data"),
        "PYTHONPATH": str(ROOT),
        "DEPUTY_LOG_LEVEL": "WARNING",
        "DEPUTY_UNDO_SECONDS": "0",  # tests of the undo window set it themselves
        # Never the real platforms, even where a test sets a token without its fake: nothing listens on port 9.
        "DEPUTY_SLACK_API_URL": "http://127.0.0.1:9/api/",
        "DEPUTY_TELEGRAM_API_URL": "http://127.0.0.1:9/bot",
    }


def settings_from(env: dict[str, str]) -> Settings:
    """The settings a Deputy process started with `env` would read (but no log level, which is not one)."""
    names = {k: v for k, v in env.items() if k.startswith(("DEPUTY_", "SLACK_", "TELEGRAM_")) or k == "REDIS_URL"}
    return settings_with(names)


@pytest.fixture
async def runtime(env: dict[str, str]) -> AsyncIterator[Runtime]:
    """The same wiring a Deputy process uses, in the test's own event loop."""
    rt = build_runtime(settings_from(env), env["REDIS_URL"])
    yield rt
    await rt.close()


def deputy(
    *args: str, env: dict[str, str], cwd: Path, stdin: str = "", timeout: float = 90
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", *args],
        input=stdin,
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


STOP_S = 2
"""A test's workers get this long to stop after SIGTERM, then the group is killed: nothing is asserted of a stop
at teardown (the stop tests stop their workers themselves), and a worker whose job still waits for its chat's
pace slot (edits reserved a second apart) or posts to a platform fake that has already stopped would otherwise
hold its test's teardown for the whole wait."""


class Workers:
    """`deputy worker` processes, each in its own process group so a test can kill -9 the whole worker."""

    def __init__(self, env: dict[str, str], cwd: Path) -> None:
        self.env, self.cwd = env, cwd
        self.processes: list[subprocess.Popen[bytes]] = []

    def start(self, **extra_env: str) -> subprocess.Popen[bytes]:
        process = subprocess.Popen(
            [sys.executable, "-m", "bot.cli", "worker"],
            env={**self.env, **extra_env},
            cwd=self.cwd,
            start_new_session=True,
            stdout=subprocess.DEVNULL,
            stderr=open(self.cwd / "worker.log", "ab"),  # noqa: SIM115
        )
        self.processes.append(process)
        return process

    def kill9(self, process: subprocess.Popen[bytes]) -> None:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(10)

    def stop_all(self) -> None:
        for process in self.processes:  # the whole group even if the worker is gone: its job process may not be
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(STOP_S)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()


@pytest.fixture
def workers(env: dict[str, str], tmp_path: Path) -> Iterator[Workers]:
    pool = Workers(env, tmp_path)
    yield pool
    pool.stop_all()


LOG_TAIL = 6000
"""How much of a failed test's worker.log and deputy.log its report shows: they are written by other processes,
so what those said would otherwise be lost with the temporary directory."""


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    report = yield
    tmp = getattr(item, "funcargs", {}).get("tmp_path")
    if report.failed and isinstance(tmp, Path):
        for log in (tmp / "worker.log", tmp / "data" / "deputy.log"):
            if log.exists():
                report.sections.append((f"{log.name} (tail)", log.read_text(errors="replace")[-LOG_TAIL:]))
    return report


async def serve(app: web.Application, port: int) -> web.AppRunner:
    """A small fake HTTP service (a webhook receiver, a platform API) on loopback; `cleanup()` stops it."""
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    return runner


async def eventually(predicate: Callable[[], Any], timeout: float = 20.0, what: str = "condition") -> Any:
    """Async twin of `wait_for` for tests running in an event loop."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = predicate()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return result
        await asyncio.sleep(0.05)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


@pytest.fixture
async def openai_server() -> AsyncIterator[tuple[FakeOpenAI, str]]:
    """The local OpenAI-compatible server (tests/fakes/openai_api.py) and its base URL (`DEPUTY_LLM_API_BASE`)."""
    server, port = FakeOpenAI(), free_port()
    runner = await serve(server.app(), port)
    yield server, f"http://127.0.0.1:{port}/v1"
    await runner.cleanup()


@pytest.fixture(scope="module")
def imap_server() -> Iterator[ImapServer]:
    """A real IMAP server (pymap, its own process) for a module's tests; each test takes a folder of its own."""
    with running() as server:
        yield server
