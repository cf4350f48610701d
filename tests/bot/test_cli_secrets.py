"""No command prints a secret: not doctor's lines (a Bot API error quoting its URL, token and all), not a
configuration error about a setting that holds one."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from aiohttp import web
from redis import Redis

from memory.embedded import free_port
from tests.conftest import deputy

TOKEN = "123456:SECRET-token-never-shown"


@pytest.fixture
def html_api() -> Iterator[str]:
    """A Bot API address that answers an HTML error page, as proxies and outages do."""
    port, ready, stop = free_port(), threading.Event(), asyncio.Event()

    async def page(request: web.Request) -> web.Response:
        return web.Response(status=502, text="<html>bad gateway</html>", content_type="text/html")

    async def serve() -> None:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", page)
        runner = web.AppRunner(app)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", port).start()
        ready.set()
        await stop.wait()
        await runner.cleanup()

    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_until_complete, args=(serve(),), daemon=True)
    thread.start()
    ready.wait(10)
    yield f"http://127.0.0.1:{port}/bot"
    loop.call_soon_threadsafe(stop.set)
    thread.join(10)


def test_doctor_never_prints_the_bot_token(env: dict[str, str], tmp_path: Path, html_api: str) -> None:
    result = deputy(
        "doctor", env={**env, "TELEGRAM_BOT_TOKEN": TOKEN, "DEPUTY_TELEGRAM_API_URL": html_api}, cwd=tmp_path
    )
    assert "FIX Telegram" in result.stdout
    assert "SECRET-token" not in result.stdout + result.stderr


def test_a_malformed_hooks_setting_is_named_without_its_secret(env: dict[str, str], tmp_path: Path) -> None:
    result = deputy("doctor", env={**env, "DEPUTY_HOOKS": "site=ok,leads:hunter2-secret"}, cwd=tmp_path)
    assert result.returncode == 2 and result.stderr.count("\n") == 1
    assert "DEPUTY_HOOKS" in result.stderr and "hunter2" not in result.stderr


def test_doctor_says_why_an_out_of_memory_redis_refuses_writes(env: dict[str, str], tmp_path: Path) -> None:
    with Redis.from_url(env["REDIS_URL"]) as client:
        client.set("ballast", "x" * 200_000)
        client.config_set("maxmemory", "1")
        try:
            result = deputy("doctor", env=env, cwd=tmp_path)
        finally:
            client.config_set("maxmemory", "0")
    assert result.returncode == 2
    [line] = [line for line in result.stdout.splitlines() if line.startswith("FIX Redis:")]
    assert "refuses writes: Redis is out of memory (maxmemory reached): raise maxmemory or free memory" in line
    assert "of maxmemory" in line
