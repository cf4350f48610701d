"""The request a new user types first, against the fake OpenAI-compatible server in each mode taken from the local
servers people run (tests/fakes/openai_api.py), through the real job (its progress reporter, so the draft streams),
the real model client over HTTP, Redis and the console channel: each yields a valid card — or, where the mode
makes that impossible, one sentence naming the setting to change."""

from __future__ import annotations

from typing import Any

import pytest

from agents import jobs
from agents.runtime import install
from bot.wiring import Runtime, build_runtime
from memory.streams import range_after
from orchestrator.commands import Inbound
from orchestrator.model import Actor, ChatRef
from tests.agents.conftest import llm_env
from tests.conftest import settings_from
from tests.fakes.openai_api import FakeOpenAI

ASK = "email jane@acme.com a follow-up on invoice 42"
CONSOLE = ChatRef("console", "local")
CARD_MODES: dict[str, dict[str, Any]] = {
    "roles alternate (llama-server's 400)": {"strict": "400"},
    "roles alternate (llama-cpp-python's 500)": {"strict": "500"},
    "no system role": {"strict": "500", "no_system": True},
    "json_schema refused (llama-cpp-python)": {"takes": frozenset({"json_object", "text"})},
    "json_object only": {"takes": frozenset({"json_object"})},
    "neither format": {"takes": frozenset({"text"})},
    "slow token stream": {"ttft_s": 0.5, "tokens_per_s": 150.0},
    "cut at max_tokens once": {"ramble": 9_000},
    "dropped mid-stream": {"ttft_s": 0.1, "tokens_per_s": 500.0, "drop_after": 5},
    "one slot": {"single_slot": True, "delay_s": 0.3},
}


@pytest.fixture
def deputy(env: dict[str, str], openai_server: tuple[FakeOpenAI, str]) -> dict[str, str]:
    """The environment of a Deputy whose model is the fake server; the job's runtime is built from it."""
    return {**env, **llm_env(openai_server[1])}


async def asked(settings: dict[str, str]) -> list[str]:
    """The request sent in the console, its job run to the end; what the console was told, in order."""
    config = settings_from(settings)
    install(lambda: build_runtime(config))
    runtime: Runtime = build_runtime(config)
    try:
        actor = Actor("console", "operator", "you")
        await runtime.coordinator.receive(Inbound(actor=actor, chat=CONSOLE, text=ASK, event_id="e1"))
        [task_id] = await runtime.store.ids("task", "received")
        await jobs._run_task(task_id)
        said = await range_after(runtime.redis, "deputy:console:local", "0", count=200)
        return [fields["text"] for _, fields in said]
    finally:
        await runtime.close()


@pytest.mark.parametrize("mode", list(CARD_MODES))
async def test_each_mode_of_a_real_server_yields_a_valid_card(
    deputy: dict[str, str], openai_server: tuple[FakeOpenAI, str], mode: str
) -> None:
    server, _ = openai_server
    for name, value in CARD_MODES[mode].items():
        setattr(server, name, value)
    said = await asked(deputy)
    assert "Send email “Following up” to jane@acme.com" in said[-1] or "to jane@acme.com" in said[-1], said
    assert "Proposal" in said[-1] or "Test model draft" in said[-1], said


async def test_a_dropped_stream_is_tried_again_and_said_in_words(
    deputy: dict[str, str], openai_server: tuple[FakeOpenAI, str]
) -> None:
    server, _ = openai_server
    server.ttft_s, server.tokens_per_s, server.drop_after = 0.1, 500.0, 5
    said = await asked(deputy)
    assert any("model server not answering, trying again (2/6)" in text for text in said), said
    assert "Test model draft (email)" in said[-1]
    assert server.stats.steps.count("draft") == 2


@pytest.mark.parametrize(
    ("mode", "extra", "sentence"),
    [
        ("one slot, slower than the timeout", {"DEPUTY_LLM_TIMEOUT_S": "1"}, "DEPUTY_LLM_TIMEOUT_S"),
        ("cut at max_tokens for good", {}, "stopped at its length limit"),
    ],
)
async def test_where_a_card_cant_be_made_one_sentence_says_why(
    deputy: dict[str, str], openai_server: tuple[FakeOpenAI, str], mode: str, extra: dict[str, str], sentence: str
) -> None:
    server, _ = openai_server
    if mode.startswith("one slot"):
        server.single_slot, server.delay_s = True, 2.0
    else:
        server.ramble = 30_000
    said = await asked({**deputy, **extra})
    last = said[-1]
    assert sentence in last and last.startswith("✗ I couldn't draft this:") and last.count("\n") == 0, said
    assert "Exception" not in last and "Nothing was staged." in last
