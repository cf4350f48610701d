"""`openai/<name>` models go over Deputy's own client (agents/openai_compat.py) instead of litellm: each test holds
it to litellm itself, over HTTP against the same local OpenAI-compatible server — the same request body, the same
tokens and dollars (litellm's price list read without litellm), the same answer to "does it take a schema", the
same place in Deputy's error tree for each failure."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from pydantic import BaseModel

from agents import price_list
from agents.litellm_lib import litellm
from agents.llm import Raw
from agents.openai_compat import OpenAITransport, close_session, embed, session
from agents.prompts import Message
from agents.schemas import Schema
from agents.transports import LiteLLMTransport
from memory.embedded import free_port
from orchestrator.errors import (
    ModelError,
    ModelPermanent,
    ModelRefused,
    ModelTimeout,
    ModelTransient,
    ModelUnreachable,
)
from tests.conftest import serve
from tests.fakes.openai_api import LLAMA_CPP_PYTHON_FORMAT, FakeOpenAI

LONG: list[Message] = [
    {"role": "system", "content": "You are Deputy. " + "Answer in JSON with the fields asked for. " * 20},
    {"role": "user", "content": "Step: verify\nIs the draft fine?"},
]
Transport = LiteLLMTransport | OpenAITransport


class Verdict(BaseModel):
    ok: bool
    problem: str = ""


@dataclass
class Recording(FakeOpenAI):
    """The fake server, keeping each request's body and headers as they arrived."""

    bodies: list[dict[str, Any]] = field(default_factory=list)
    headers: list[dict[str, str]] = field(default_factory=list)

    async def chat(self, request: web.Request) -> web.StreamResponse:
        self.bodies.append(await request.json())
        self.headers.append(dict(request.headers))
        return await super().chat(request)


@pytest.fixture
async def server() -> AsyncIterator[tuple[Recording, str]]:
    fake, port = Recording(), free_port()
    runner = await serve(fake.app(), port)
    yield fake, f"http://127.0.0.1:{port}/v1"
    await close_session()
    await runner.cleanup()


async def ask(transport: Transport, model: str, *, schema: Schema | None = None, stream: bool = False) -> Raw:
    seen: list[str] = []

    async def on_text(text: str) -> None:
        seen.append(text)

    raw = await transport(
        model, LONG, json_mode=True, max_tokens=300, schema=schema, on_text=on_text if stream else None
    )
    assert not stream or (seen and seen[-1] == raw.text)  # the text so far, as it grew
    return raw


@pytest.mark.parametrize(
    ("model", "stream"),
    [
        ("openai/gpt-4o-mini", False),
        ("openai/gpt-4o-mini", True),
        ("openai/gpt-5", False),
        ("openai/o3-mini", True),
        ("gpt-4o-mini", False),
        ("openai/gpt-5.1", False),
        ("openai/gpt-5.5", False),
        ("openai/gpt-5-mini", True),
        ("openai/o1", False),
    ],
)
async def test_the_request_is_the_one_litellm_sends(server: tuple[Recording, str], model: str, stream: bool) -> None:
    fake, url = server
    for transport in (LiteLLMTransport(url), OpenAITransport(url)):
        await ask(transport, model, schema=Verdict if "mini" in model else None, stream=stream)
    theirs, ours = fake.bodies
    assert ours == theirs
    assert fake.headers[1]["Authorization"] == fake.headers[0]["Authorization"] == "Bearer sk-test"


def test_bare_names_litellm_sends_to_openai_are_called_natively_and_no_others() -> None:
    """litellm's own routing of a bare name (its `get_llm_provider`): OpenAI's chat and embedding models are
    ours; its completion, speech and responses-only models, other providers' names and unknown ones stay litellm's."""
    import litellm

    from agents.openai_compat import native

    ours = ["gpt-4o-mini", "gpt-4o", "gpt-5", "o3-mini", "text-embedding-3-small"]
    theirs = ["claude-3-5-sonnet-20240620", "gemini-1.5-pro", "gpt-3.5-turbo-instruct", "gpt-4o-mini-tts", "o1-pro"]
    assert all(litellm.get_llm_provider(m)[1] == "openai" for m in ours) and all(native(m) for m in ours)
    assert not any(native(m) for m in [*theirs, "house-model", "offline", "ollama_chat/llama3"])


@pytest.mark.parametrize("model", ["openai/gpt-4o-mini", "openai/gpt-4o", "openai/house-model"])
@pytest.mark.parametrize("stream", [False, True])
async def test_tokens_and_dollars_are_litellms(server: tuple[Recording, str], model: str, stream: bool) -> None:
    fake, url = server
    raws = []
    for transport in (LiteLLMTransport(url), OpenAITransport(url)):
        fake.reset(prefix_cache=True)
        await ask(transport, model)  # the second call shares its prefix: cached tokens, at the cache-read price
        raws.append(await ask(transport, model, stream=stream))
    theirs, ours = raws
    assert ours.cached_tokens > 0 and (ours.tokens_in, ours.tokens_out) == (theirs.tokens_in, theirs.tokens_out)
    assert ours.cached_tokens == theirs.cached_tokens and ours.text == theirs.text and ours.finish == theirs.finish
    if model.endswith("house-model"):
        assert ours.usd is None and theirs.usd is None  # unpriced either way
    else:
        assert ours.usd == pytest.approx(theirs.usd, rel=1e-9) and ours.usd is not None and ours.usd > 0


def test_long_prompt_rates_and_the_estimate_are_litellms() -> None:
    lib = litellm()
    for model, tokens_in, cached in (
        ("gpt-5.4", 300_000, 10_000),
        ("gpt-5.4", 1_000, 0),
        ("gpt-4o-mini", 5_000, 2_048),
    ):
        prompt, completion = lib.cost_per_token(
            model=model, prompt_tokens=tokens_in, completion_tokens=700, cache_read_input_tokens=cached
        )
        assert price_list.cost([f"openai/{model}"], tokens_in, 700, cached) == pytest.approx(prompt + completion)
    info = lib.get_model_info("openai/gpt-4o-mini")
    expected = 1_000 * info["input_cost_per_token"] + 300 * info["output_cost_per_token"]
    assert price_list.estimate("openai/gpt-4o-mini", 1_000, 300) == pytest.approx(expected)
    assert price_list.cost(["openai/house-model"], 10, 10) is None and price_list.estimate("openai/x", 9, 9) == 0


def test_which_models_take_a_schema_is_litellms_answer() -> None:
    lib = litellm()
    names = [name for name, entry in price_list.entries().items() if entry.get("mode") == "chat"]
    assert len(names) > 50
    for name in [*names, "house-model"]:
        expected = bool(lib.supports_response_schema(model=name, custom_llm_provider="openai"))
        assert price_list.takes_schema(f"openai/{name}") is expected, name


FAILURES: list[tuple[dict[str, Any], type[ModelError]]] = [
    ({"status": 429, "headers": {"Retry-After": "3"}, "message": "slow down"}, ModelTransient),
    ({"status": 503, "message": "overloaded"}, ModelTransient),
    ({"status": 401, "message": "bad key"}, ModelPermanent),
    ({"status": 404, "message": "no such model"}, ModelPermanent),
    ({"status": 500, "message": LLAMA_CPP_PYTHON_FORMAT.format(kind="json_schema")}, ModelRefused),
]


@pytest.mark.parametrize(("script", "kind"), FAILURES)
async def test_each_failure_lands_where_litellms_does(
    server: tuple[Recording, str], script: dict[str, Any], kind: type[ModelError]
) -> None:
    fake, url = server
    caught = []
    for transport in (LiteLLMTransport(url), OpenAITransport(url)):
        fake.script.append(script)
        with pytest.raises(kind) as err:
            await ask(transport, "openai/gpt-4o-mini")
        caught.append(err.value)
    theirs, ours = caught
    assert type(ours) is type(theirs) and script["message"].split("\n")[0][:40] in str(ours)
    assert getattr(ours, "retry_after", None) == getattr(theirs, "retry_after", None)
    assert ("check the provider's API key" in str(ours)) is (script["status"] == 401)
    assert getattr(ours, "what", "") == getattr(theirs, "what", "")


async def test_unreachable_timeout_and_a_cut_stream_are_said_in_words(server: tuple[Recording, str]) -> None:
    fake, url = server
    nobody = f"http://127.0.0.1:{free_port()}/v1"
    with pytest.raises(ModelUnreachable, match=rf"^can't reach the model server at {nobody} \(Connection refused\)"):
        await ask(OpenAITransport(nobody), "openai/gpt-4o-mini")
    fake.delay_s = 2.0
    with pytest.raises(ModelTimeout, match=f"^the model server at {url} did not answer in time"):
        await ask(OpenAITransport(url, timeout=0.5), "openai/gpt-4o-mini")
    fake.delay_s, fake.ttft_s, fake.tokens_per_s, fake.drop_after = 0.0, 0.0, 500.0, 3
    with pytest.raises(ModelUnreachable, match=r"\(server disconnected mid-answer\)$"):
        await ask(OpenAITransport(url), "openai/gpt-4o-mini", stream=True)
    fake.drop_next = 1
    with pytest.raises(ModelUnreachable, match=r"\(server disconnected\)$"):
        await ask(OpenAITransport(url), "openai/gpt-4o-mini")


async def test_the_key_and_base_url_are_found_where_litellm_finds_them(
    server: tuple[Recording, str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    fake, url = server
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with pytest.raises(ModelPermanent, match=r"^openai/gpt-4o-mini has no API key: set OPENAI_API_KEY in the env"):
        await ask(OpenAITransport(), "openai/gpt-4o-mini")  # OpenAI itself: nothing is sent without a key
    await ask(OpenAITransport(url), "openai/gpt-4o-mini")  # a server of one's own: "none", as before
    (tmp_path / ".env").write_text(f"OPENAI_API_KEY=sk-from-dotenv\nOPENAI_BASE_URL={url}\n")
    await ask(OpenAITransport(), "openai/gpt-4o-mini")  # litellm loads .env as it is imported; so do we
    assert [h["Authorization"] for h in fake.headers] == ["Bearer none", "Bearer sk-from-dotenv"]


async def test_embeddings_are_litellms(server: tuple[Recording, str]) -> None:
    _, url = server
    texts = ["Acme pays net 45", "the invoice is overdue", "call Jane tomorrow"]
    theirs = await litellm().aembedding(model="openai/text-embedding-3-small", input=texts, api_base=url, api_key="k")
    ours = await embed("openai/text-embedding-3-small", texts, url)
    assert ours == [item["embedding"] for item in theirs.data] and len(ours) == 3


async def test_one_session_per_loop_kept_between_calls_until_the_runtime_closes(server: tuple[Recording, str]) -> None:
    _, url = server
    await ask(OpenAITransport(url), "openai/gpt-4o-mini")
    kept = session()
    await ask(OpenAITransport(url), "openai/gpt-4o-mini")
    assert session() is kept and not kept.closed  # the connection is reused, not opened per call

    async def other_loops() -> aiohttp.ClientSession:
        await ask(OpenAITransport(url), "openai/gpt-4o-mini")
        own = session()
        await close_session()  # its runtime closing
        return own

    elsewhere = await asyncio.to_thread(asyncio.run, other_loops())  # a job's or a test's own loop
    assert elsewhere is not kept and session() is kept
    await close_session()
    assert kept.closed and session() is not kept


async def test_a_proxy_from_the_environment_carries_the_call_and_no_proxy_skips_it(
    server: tuple[Recording, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """As the OpenAI SDK (httpx) does: `HTTP_PROXY`/`HTTPS_PROXY` carry the call, `NO_PROXY` hosts go direct. The
    fake server stands in for the proxy: a call to a host that doesn't resolve reaches it only through it."""
    from connectors import http_env

    fake, url = server
    monkeypatch.setenv("HTTP_PROXY", url.removesuffix("/v1"))
    monkeypatch.setenv("NO_PROXY", "direct.invalid")
    http_env.proxy.cache_clear()
    try:
        raw = await ask(OpenAITransport("http://model.invalid:9/v1"), "openai/gpt-4o-mini")
        assert raw.text and len(fake.bodies) == 1
        with pytest.raises(ModelUnreachable, match=r"^can't reach the model server at http://direct.invalid"):
            await ask(OpenAITransport("http://direct.invalid:9/v1"), "openai/gpt-4o-mini")
    finally:
        http_env.proxy.cache_clear()
