"""A slow model behind a real worker: the task's progress message says the step, the model and the time it has
taken, edited in place as it goes (the console prints each edit when piped; a terminal redraws its one line)."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import pytest

from bot.wiring import Runtime, build_runtime
from tests.agents.conftest import llm_env
from tests.conftest import Workers, settings_from
from tests.e2e.helpers import converse
from tests.fakes.openai_api import FakeOpenAI


@pytest.fixture
async def model_runtime(env: dict[str, str], openai_server: tuple[FakeOpenAI, str]) -> AsyncIterator[Runtime]:
    _, url = openai_server
    env.update(llm_env(url))
    runtime = build_runtime(settings_from(env))
    yield runtime
    await runtime.close()


async def test_a_slow_model_shows_its_step_and_the_time_it_has_taken(
    model_runtime: Runtime, workers: Workers, openai_server: tuple[FakeOpenAI, str]
) -> None:
    server, _ = openai_server
    server.delay_s = 7.0  # a model on a CPU
    workers.start()
    transcript = await converse(model_runtime, "email jane@acme.com a follow-up on invoice 42")
    shown = re.findall(r"Drafting with gpt-4o-mini · (\d+) s", transcript)
    assert shown and shown[0] == "0" and max(map(int, shown)) >= 3, transcript  # the clock moves on the message
    assert len(shown) <= 7.0 / 3 + 2  # at most one edit every 3 s (the platforms allow about one a second)
    assert "Test model draft (email)" in transcript
