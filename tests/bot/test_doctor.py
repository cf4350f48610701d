"""`deputy doctor` against local fakes of the services it checks: one line each, exit 2 on any problem."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from aiohttp import web
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from bot.doctor import run_doctor
from config.settings import settings_with
from memory.embedded import free_port
from tests.conftest import SENDER, Smtp, serve
from tests.fakes.openai_api import FakeOpenAI

GOOD_SLACK, GOOD_TELEGRAM = "xoxb-good", "123:good"


class Platforms:
    """The few read-only endpoints doctor calls, answering like the real services."""

    def __init__(self) -> None:
        self.port = free_port()
        self.scopes = "chat:write,im:history,app_mentions:read,commands,users:read"
        self.webhook_url = ""
        self.model = FakeOpenAI()

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def auth_test(self, request: web.Request) -> web.Response:
        if request.headers.get("Authorization") != f"Bearer {GOOD_SLACK}":
            return web.json_response({"ok": False, "error": "invalid_auth"})
        return web.json_response(
            {"ok": True, "user": "deputy", "team": "Acme"}, headers={"x-oauth-scopes": self.scopes}
        )

    async def telegram(self, request: web.Request) -> web.Response:
        token, method = request.match_info["token"], request.match_info["method"]
        if token != GOOD_TELEGRAM:
            return web.json_response({"ok": False, "error_code": 401, "description": "Unauthorized"}, status=401)
        if method == "getMe":
            return web.json_response(
                {"ok": True, "result": {"id": 1, "is_bot": True, "first_name": "Deputy", "username": "deputy_bot"}}
            )
        return web.json_response({"ok": True, "result": {"url": self.webhook_url, "pending_update_count": 0}})

    async def models(self, request: web.Request) -> web.Response:
        return web.json_response({"object": "list", "data": [{"id": "local-model", "object": "model"}]})

    async def ready(self, request: web.Request) -> web.Response:
        return web.Response(status=200)

    async def start(self) -> web.AppRunner:
        app = web.Application()
        app.router.add_post("/slack/api/auth.test", self.auth_test)
        app.router.add_get(r"/bot{token}/{method}", self.telegram)
        app.router.add_get("/v1/models", self.models)
        app.router.add_post("/v1/chat/completions", self.model.chat)
        app.router.add_get("/v1/.well-known/ready", self.ready)
        return await serve(app, self.port)


@pytest.fixture
async def platforms() -> AsyncIterator[Platforms]:
    fake = Platforms()
    runner = await fake.start()
    yield fake
    await runner.cleanup()


@pytest.fixture
def smtp_login() -> Iterator[Smtp]:
    """An SMTP server that wants user sam, password right."""

    def authenticate(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
        given = (data.login, data.password) if isinstance(data, LoginPassword) else ()
        ok = tuple(v.decode() if isinstance(v, bytes) else v for v in given) == ("sam", "right")
        return AuthResult(success=ok, handled=False)  # handled=False: aiosmtpd answers 535 itself

    sink = Smtp(free_port())
    controller = Controller(
        sink, hostname="127.0.0.1", port=sink.port, authenticator=authenticate, auth_require_tls=False
    )
    controller.start()
    yield sink
    controller.stop()


def everything(platforms: Platforms, smtp: Smtp, redis_url: str, **changes: str) -> dict[str, str]:
    values = {
        "REDIS_URL": redis_url,
        "DEPUTY_SMTP_URL": f"smtp://sam:right@127.0.0.1:{smtp.port}",
        "DEPUTY_EMAIL_FROM": SENDER,
        "SLACK_BOT_TOKEN": GOOD_SLACK,
        "SLACK_SIGNING_SECRET": "s3cret",
        "DEPUTY_SLACK_API_URL": f"{platforms.base}/slack/api/",
        "TELEGRAM_BOT_TOKEN": GOOD_TELEGRAM,
        "DEPUTY_TELEGRAM_API_URL": f"{platforms.base}/bot",
        "DEPUTY_LLM_MODEL": "openai/local-model",
        "DEPUTY_LLM_API_BASE": f"{platforms.base}/v1",
        "DEPUTY_MEMORY_BACKEND": "weaviate",
        "DEPUTY_WEAVIATE_URL": platforms.base,
    }
    return {**values, **changes}


async def doctor(values: dict[str, str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    code = await run_doctor(settings_with(values))
    return code, capsys.readouterr().out


@pytest.fixture
def persistent(redis_url: str) -> Iterator[str]:
    from redis import Redis

    with Redis.from_url(redis_url) as client:
        client.config_set("appendonly", "yes")
        yield redis_url
        client.config_set("appendonly", "no")


async def test_all_configured_and_healthy_is_exit_0_with_a_line_each(
    platforms: Platforms, smtp_login: Smtp, persistent: str, capsys: pytest.CaptureFixture[str]
) -> None:
    from redis.asyncio import Redis

    alive = Redis.from_url(persistent)
    await alive.set("deputy:worker:w1", "w1", ex=30)
    code, out = await doctor(everything(platforms, smtp_login, persistent), capsys)
    await alive.aclose()
    assert code == 0, out
    for line in (
        "ok  Slack: signed in as deputy on Acme; scopes ok",
        "ok  Telegram: @deputy_bot answers; polling",
        f"ok  Model: {platforms.base}/v1 answers",
        "ok  Model call: openai/local-model answers (JSON schema) in",
        f"ok  Memory: Weaviate at {platforms.base} is ready",
        "ok  Email: SMTP at 127.0.0.1",
        "ok  Workers: 1 alive",
    ):
        assert line in out, out


@pytest.mark.parametrize(
    ("changes", "fix"),
    [
        (
            {"DEPUTY_SMTP_URL": "smtp://sam:wrong@127.0.0.1:{smtp}"},
            "FIX Email: SMTP login to 127.0.0.1:{smtp} was refused",
        ),
        ({"SLACK_SIGNING_SECRET": ""}, "FIX Slack: SLACK_SIGNING_SECRET is missing"),
        ({"SLACK_BOT_TOKEN": "xoxb-revoked"}, "FIX Slack: auth.test failed (invalid_auth)"),
        ({"TELEGRAM_BOT_TOKEN": "123:revoked"}, "FIX Telegram: getMe failed (Unauthorized)"),
        ({"DEPUTY_WEAVIATE_URL": "http://127.0.0.1:1"}, "FIX Memory: Weaviate at http://127.0.0.1:1 is unreachable"),
        ({"DEPUTY_LLM_API_BASE": "http://127.0.0.1:1/v1"}, "FIX Model: can't reach DEPUTY_LLM_API_BASE"),
        ({"REDIS_URL": "redis://127.0.0.1:1/0"}, "FIX Redis: can't reach redis://127.0.0.1:1/0"),
    ],
)
async def test_each_misconfiguration_is_named_with_its_fix_and_exit_2(
    platforms: Platforms,
    smtp_login: Smtp,
    persistent: str,
    capsys: pytest.CaptureFixture[str],
    changes: dict[str, str],
    fix: str,
) -> None:
    values = everything(platforms, smtp_login, persistent)
    values.update({k: v.format(smtp=smtp_login.port) for k, v in changes.items()})
    values = {k: v for k, v in values.items() if v}
    code, out = await doctor(values, capsys)
    assert code == 2 and fix.format(smtp=smtp_login.port) in out, out


async def test_missing_scopes_and_a_stray_webhook_are_named(
    platforms: Platforms, smtp_login: Smtp, persistent: str, capsys: pytest.CaptureFixture[str]
) -> None:
    platforms.scopes, platforms.webhook_url = "chat:write", "https://old.example/hook"
    code, out = await doctor(everything(platforms, smtp_login, persistent), capsys)
    assert code == 2
    assert "FIX Slack: the app lacks scopes im:history, app_mentions:read, commands" in out
    assert "ok  Telegram: @deputy_bot answers; polling; the webhook https://old.example/hook is removed" in out


async def test_webhook_mode_needs_a_webhook_that_reaches_deputy(
    platforms: Platforms, smtp_login: Smtp, persistent: str, capsys: pytest.CaptureFixture[str]
) -> None:
    values = {
        **everything(platforms, smtp_login, persistent),
        "DEPUTY_TELEGRAM_MODE": "webhook",
        "DEPUTY_TELEGRAM_WEBHOOK_SECRET": "s",
    }
    code, out = await doctor(values, capsys)
    assert code == 2 and "no webhook is set: set DEPUTY_PUBLIC_URL=https://your.host" in out
    platforms.webhook_url = "https://deputy.example/telegram/webhook"
    code, out = await doctor(values, capsys)
    assert "Telegram: @deputy_bot answers; webhook https://deputy.example/telegram/webhook" in out


@pytest.mark.parametrize(("structured", "code", "mark"), [("on", 2, "FIX"), ("auto", 0, "--  ")])
async def test_a_server_that_refuses_a_json_schema_is_named_with_the_setting_to_change(
    platforms: Platforms,
    smtp_login: Smtp,
    persistent: str,
    capsys: pytest.CaptureFixture[str],
    structured: str,
    code: int,
    mark: str,
) -> None:
    from redis.asyncio import Redis

    alive = Redis.from_url(persistent)
    await alive.set("deputy:worker:w1", "w1", ex=30)
    platforms.model.takes = frozenset({"json_object", "text"})  # llama-cpp-python's server
    values = everything(platforms, smtp_login, persistent, DEPUTY_LLM_STRUCTURED=structured)
    got, out = await doctor(values, capsys)
    await alive.aclose()
    [line] = [line for line in out.splitlines() if "Model call" in line]
    assert got == code and line.startswith(mark), out
    assert "openai/local-model answers (JSON mode)" in line and "set DEPUTY_LLM_STRUCTURED=off" in line
    assert "Input should be 'text' or 'json_object'" in line and "unpriced" in line
