"""Fixtures the end-to-end tests share."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from bot.wiring import Runtime, build_runtime
from tests.agents.conftest import llm_env
from tests.conftest import settings_from
from tests.e2e.procs import RestartableRedis
from tests.fakes import slack_api as slack
from tests.fakes.openai_api import FakeOpenAI
from tests.fakes.slack_api import FakeSlack


@pytest.fixture(autouse=True)
def inbox_said(caplog: pytest.LogCaptureFixture) -> None:
    """What an inbox folder loop did (connected, searched, found, idled) shows with a failure."""
    caplog.set_level(logging.DEBUG, logger="deputy.inbox")


@pytest.fixture
def restartable(tmp_path: Path) -> Iterator[RestartableRedis]:
    """A redis-server of the test's own, to kill, fill and start again."""
    (tmp_path / "redis").mkdir()
    server = RestartableRedis(tmp_path / "redis")
    server.start()
    yield server
    server.stop()


@pytest.fixture
async def slack_api() -> AsyncIterator[FakeSlack]:
    """The fake Slack Web API (and Socket Mode) on a free loopback port, for Deputy's Slack tests."""
    fake = FakeSlack()
    runner = await slack.start(fake)
    yield fake
    await runner.cleanup()


@pytest.fixture
async def model_runtime(env: dict[str, str], openai_server: tuple[FakeOpenAI, str]) -> AsyncIterator[Runtime]:
    """Deputy's runtime drafting with the fake OpenAI-compatible model (workers started after read `env` too)."""
    _, url = openai_server
    env.update(llm_env(url))
    runtime = build_runtime(settings_from(env))
    yield runtime
    await runtime.close()


from tests.radicale import calendar, radicale  # noqa: E402, F401  (a real CalDAV server: tests/radicale.py)
