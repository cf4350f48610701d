"""A Deputy runtime whose model is served over HTTP by the local OpenAI-compatible test server."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import pytest

from agents.runner import PlaybookRunner
from bot.wiring import Runtime, build_runtime
from orchestrator.model import ProposalDraft, Reply, Task
from orchestrator.words import memory_ask
from tests.conftest import settings_from
from tests.fakes.openai_api import FakeOpenAI
from tests.orchestrator.conftest import CONSOLE, ME
from tests.orchestrator.test_model import NOW

MODEL = "openai/gpt-4o-mini"


@dataclass
class Llm:
    server: FakeOpenAI
    url: str
    runtime: Runtime

    @property
    def runner(self) -> PlaybookRunner:
        assert isinstance(self.runtime.drafter, PlaybookRunner)
        return self.runtime.drafter

    def script(self, *steps: dict[str, Any]) -> None:
        self.server.script.extend(steps)

    async def draft(self, text: str, task_id: str = "t1") -> ProposalDraft | Reply:
        return await self.runner.draft(Task(task_id, text, ME, CONSOLE, "e", NOW, memory=memory_ask(text)))

    async def calls(self) -> list[Any]:
        return [e for _, e in await self.runtime.ledger.read() if e.type == "ModelCalled"]


def llm_env(url: str, **extra: str) -> dict[str, str]:
    return {"DEPUTY_LLM_MODEL": MODEL, "DEPUTY_LLM_API_BASE": url, "OPENAI_API_KEY": "sk-test", **extra}


@pytest.fixture(autouse=True)
def api_key(monkeypatch: pytest.MonkeyPatch) -> None:
    """Provider keys are read from the process environment (or `.env`), under their usual names."""
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")


@pytest.fixture
async def llm(env: dict[str, str], openai_server: tuple[FakeOpenAI, str]) -> AsyncIterator[Llm]:
    server, url = openai_server
    runtime = build_runtime(settings_from({**env, **llm_env(url)}))
    yield Llm(server, url, runtime)
    await runtime.close()


Deputy = Callable[..., Awaitable[Llm]]
"""Makes a runtime with extra settings (`DEPUTY_…=…`), closed after the test."""


@pytest.fixture
async def deputy(env: dict[str, str], openai_server: tuple[FakeOpenAI, str]) -> AsyncIterator[Deputy]:
    """Runtimes against a server that follows a schema when given one and answers in its own shape when not."""
    server, url = openai_server
    server.own_shape = True
    made: list[Runtime] = []

    async def make(**extra: str) -> Llm:
        made.append(build_runtime(settings_from({**env, **llm_env(url, **extra)})))
        return Llm(server, url, made[-1])

    yield make
    for runtime in made:
        await runtime.close()
