"""litellm (seconds of CPU, ~130 MB) is paid only by the process that calls models, and only where a configured
model needs it: with a provider litellm serves (here `anthropic/…`), `deputy worker`'s parent warms everything
else before forking and leaves litellm to the job process, which imports it as it starts, before its first job;
with `openai/…` models (OpenAI and OpenAI-compatible servers: agents/openai_compat.py) no process imports it, not
even to call the model, price the call or embed (issue 30)."""

from __future__ import annotations

import asyncio
import subprocess
import sys

from tests.fakes.openai_api import FakeOpenAI

PROBE = """
import sys
from agents import runtime
from bot.worker import preload
from config.settings import load_settings

preload(load_settings())
print("parent", "litellm" in sys.modules)
runtime.started()
print("job process", "litellm" in sys.modules)
"""

CALL = """
import asyncio, sys
from agents import runtime
from bot.web import make_app
from bot.worker import preload
from bot.wiring import build_runtime, embedder
from config.settings import load_settings

settings = load_settings()
preload(settings)
runtime.started()
make_app  # the web process's code, imported as `deputy serve` imports it

async def call() -> None:
    built = build_runtime(settings)
    raw = await built.drafter.models.transport(settings.llm_model)(
        settings.llm_model, [{"role": "user", "content": "hi"}], json_mode=True, max_tokens=20
    )
    vectors = await embedder(settings).embed(["hello"])
    print("answered", bool(raw.text), raw.usd is not None, vectors.shape[0])
    await built.close()

asyncio.run(call())
print("litellm", "litellm" in sys.modules, "openai", "openai" in sys.modules)
"""


def _run(code: str, env: dict[str, str]) -> list[str]:
    result = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120, cwd=env["PYTHONPATH"]
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout.splitlines()


def test_only_the_job_process_imports_litellm_for_a_provider_it_serves(env: dict[str, str]) -> None:
    hosted = {**env, "DEPUTY_LLM_MODEL": "anthropic/claude-sonnet-4-5", "ANTHROPIC_API_KEY": "sk-test"}
    assert _run(PROBE, hosted) == ["parent False", "job process True"]


def test_with_openai_models_no_process_imports_litellm(env: dict[str, str]) -> None:
    hosted = {**env, "DEPUTY_LLM_MODEL": "openai/fake", "DEPUTY_LLM_API_BASE": "http://127.0.0.1:9/v1"}
    hosted.update(DEPUTY_LLM_VERIFY_MODEL="openai/gpt-4o-mini", DEPUTY_EMBEDDING_MODEL="openai/text-embedding-3-small")
    assert _run(PROBE, hosted) == ["parent False", "job process False"]
    bare = {**env, "DEPUTY_LLM_MODEL": "gpt-4o-mini", "DEPUTY_EMBEDDING_MODEL": "text-embedding-3-small"}
    assert _run(PROBE, {**bare, "OPENAI_API_KEY": "sk"}) == ["parent False", "job process False"]  # litellm's openai


async def test_calling_an_openai_model_and_embedding_import_neither_litellm_nor_the_sdk(
    env: dict[str, str], openai_server: tuple[FakeOpenAI, str]
) -> None:
    _, url = openai_server
    hosted = {**env, "DEPUTY_LLM_MODEL": "openai/gpt-4o-mini", "DEPUTY_LLM_API_BASE": url, "OPENAI_API_KEY": "sk"}
    hosted["DEPUTY_EMBEDDING_MODEL"] = "openai/text-embedding-3-small"
    process = await _subprocess(CALL, hosted)
    assert process == ["answered True True 1", "litellm False openai False"]


async def _subprocess(code: str, env: dict[str, str]) -> list[str]:
    """In a thread: the fake server answers on this test's event loop meanwhile."""
    return await asyncio.to_thread(_run, code, env)
