"""The last hop of a model call: the built-in model for `offline`, Deputy's own OpenAI-compatible client for
`openai/<name>` (agents/openai_compat.py: OpenAI and the local servers that speak its protocol), and litellm for
every other provider (Anthropic, Gemini, Ollama's own API, `offline/deputy`, …).

litellm is imported on first use (about 3 s and 130 MB), and only by a process that calls one of those other
providers (bot/wiring.py `preload_models`): with `openai/…` or the plain `offline` model configured, no process
imports it. The same prompts, validation, cache and accounting run whichever way a call goes. `offline/deputy` goes
through litellm's custom-provider path (agents/offline_provider.py)."""

from __future__ import annotations

import ipaddress
import os
import re
from dataclasses import dataclass, field
from functools import cache
from types import ModuleType
from typing import Any, Literal
from urllib.parse import urlsplit

from agents.capabilities import Format, refusal
from agents.litellm_lib import CHARS_PER_TOKEN, approx_tokens
from agents.litellm_lib import litellm as litellm  # also loaded from here (bot/worker.py)
from agents.llm import OnText, Raw
from agents.offline import OfflineModel
from agents.offline_provider import register
from agents.prompts import Message
from agents.schemas import Schema, response_format
from config.prices import Price
from config.providers import missing_key
from orchestrator.errors import (
    ModelError,
    ModelPermanent,
    ModelRefused,
    ModelTimeout,
    ModelTransient,
    ModelUnreachable,
)

TIMEOUT_S = 60.0
LOCAL_TIMEOUT_S = 300.0
"""A model on the operator's own CPU may take minutes for a long draft; a hosted one that takes a minute is stuck."""
RETRIES = 2
"""Retries after a 429 or 5xx. A local server's timeout is not retried (agents/llm.py): the retry would queue
behind the request it abandoned, which a one-slot server (llama.cpp, Ollama) keeps computing."""
LOCAL_PREFIXES = ("ollama/", "ollama_chat/", "hosted_vllm/", "lm_studio/", "llamafile/")
Structured = Literal["auto", "on", "off"]
"""DEPUTY_LLM_STRUCTURED: send step schemas as litellm says a model takes them (`auto`), always, or never."""


class OfflineTransport:
    cacheable = False
    remote = False
    endpoint = ""
    local = True
    timeout_s = TIMEOUT_S
    retries = 0

    def __init__(self, model: OfflineModel) -> None:
        self.model = model

    async def __call__(
        self,
        model: str,
        messages: list[Message],
        *,
        json_mode: bool,
        max_tokens: int,
        schema: Schema | None = None,
        fmt: Format | None = None,
        on_text: OnText | None = None,
    ) -> Raw:
        text = await self.model.respond(messages)
        return Raw(text, approx_tokens(messages), len(text) // CHARS_PER_TOKEN, 0, 0.0)

    def estimate(self, model: str, messages: list[Message], max_tokens: int) -> float:
        return 0.0

    def sends_schema(self, model: str) -> bool:
        """Never: the built-in model reads the prompt and always answers in the step's shape."""
        return False

    def first_format(self, model: str) -> Format:
        return "text"


@dataclass
class RemoteTransport:
    """What every transport to a real model shares: the endpoint, timeouts, retries and where the ladder of answer
    formats starts. Which models take a schema is the subclass's list to ask (`takes_schema`)."""

    cacheable = True
    remote = True
    api_base: str | None = None
    prices: dict[str, Price] = field(default_factory=dict)
    structured: Structured = "auto"
    timeout: float | None = None
    """DEPUTY_LLM_TIMEOUT_S; None: by provider kind (`timeout_s`)."""
    retries_set: int | None = None
    """DEPUTY_LLM_RETRIES; None: by provider kind (`retries`)."""

    @property
    def endpoint(self) -> str:
        return self.api_base or ""

    @property
    def local(self) -> bool:
        """A server on this machine or this network (Ollama, llama.cpp, vLLM…), not a hosted provider."""
        return bool(self.api_base and _private(self.api_base))

    @property
    def timeout_s(self) -> float:
        return self.timeout if self.timeout is not None else LOCAL_TIMEOUT_S if self.local else TIMEOUT_S

    @property
    def retries(self) -> int:
        return self.retries_set if self.retries_set is not None else RETRIES

    def takes_schema(self, model: str) -> bool:
        return takes_schema(model)

    def first_format(self, model: str) -> Format:
        """Where the ladder starts: `on` and `off` as set; `auto` with the schema where litellm lists the model as
        taking one or where the server is the operator's own (it is tried once and remembered), else JSON mode."""
        if model.startswith("offline/"):
            return "json_object"
        if self.structured != "auto":
            return "json_schema" if self.structured == "on" else "json_object"
        return "json_schema" if self.api_base or self.takes_schema(model) else "json_object"

    def sends_schema(self, model: str) -> bool:
        """`auto` asks litellm's list (`supports_response_schema`); `on`/`off` decide for servers litellm doesn't
        know, such as a local vLLM or LM Studio behind `openai/<name>`. The built-in model never needs one."""
        if model.startswith("offline/"):
            return False
        if self.structured == "auto":
            return self.takes_schema(model)
        return self.structured == "on"

    def _format(self, model: str, json_mode: bool, schema: Schema | None) -> dict[str, Any]:
        """The step's schema where the model takes one; else JSON mode, the prompt describing the fields."""
        if schema is not None and self.sends_schema(model):
            return {"response_format": response_format(schema)}
        return {"response_format": {"type": "json_object"}} if json_mode else {}


@dataclass
class LiteLLMTransport(RemoteTransport):
    """Every provider but OpenAI's protocol (agents/openai_compat.py): Anthropic, Gemini, Ollama's own API, the
    built-in model as `offline/deputy`, …, through litellm."""

    offline: OfflineModel | None = None

    async def __call__(
        self,
        model: str,
        messages: list[Message],
        *,
        json_mode: bool,
        max_tokens: int,
        schema: Schema | None = None,
        fmt: Format | None = None,
        on_text: OnText | None = None,
    ) -> Raw:
        lib = litellm()
        if model.startswith("offline/") and self.offline is not None:
            register(self.offline)
        options: dict[str, Any] = {"temperature": 0, "max_tokens": max_tokens, "timeout": self.timeout_s}
        options.update(num_retries=0, max_retries=0)  # retries are ours: counted, backed off, breaker-aware
        options.update(self._format(model, json_mode, schema) if fmt is None else format_options(fmt, schema))
        if self.api_base and not model.startswith("offline/"):
            options["api_base"] = self.api_base
            if model.startswith("openai/") and self.local and not os.environ.get("OPENAI_API_KEY"):
                options["api_key"] = "none"  # llama.cpp, Ollama, vLLM want none; the OpenAI client insists on one
        if key := missing_key(model, self.api_base):  # said as what it is, not as the provider's "500"
            raise ModelPermanent(f"{model} has no API key: set {key} in the environment or .env")
        marked = cache_marked(model, messages)
        try:
            if on_text is not None and not model.startswith("offline/"):
                response = await _streamed(lib, model, marked, options, on_text)
            else:
                response = await lib.acompletion(model=model, messages=marked, **options)
        except Exception as err:
            raise classify_error(err, self.api_base or model) from err
        return self._raw(lib, model, response)

    def _raw(self, lib: ModuleType, model: str, response: Any) -> Raw:
        text = response.choices[0].message.content or ""
        finish = str(getattr(response.choices[0], "finish_reason", "") or "stop")
        usage = getattr(response, "usage", None)
        tokens_in = int(getattr(usage, "prompt_tokens", 0) or 0)
        tokens_out = int(getattr(usage, "completion_tokens", 0) or 0)
        details = getattr(usage, "prompt_tokens_details", None)
        cached = int(getattr(details, "cached_tokens", 0) or 0)
        if model in self.prices:
            usd: float | None = self.prices[model].usd(tokens_in, tokens_out, cached)
        else:
            usd = (getattr(response, "_hidden_params", None) or {}).get("response_cost")
            if usd is None and _known(lib, model):
                usd = float(lib.completion_cost(completion_response=response, model=model))
        return Raw(text, tokens_in, tokens_out, cached, None if usd is None else float(usd), finish)

    def estimate(self, model: str, messages: list[Message], max_tokens: int) -> float:
        tokens_in = approx_tokens(messages)
        if model in self.prices:
            return self.prices[model].usd(tokens_in, max_tokens)
        lib = litellm()
        if not _known(lib, model):
            return 0.0
        info = lib.get_model_info(model)
        return float(
            tokens_in * (info.get("input_cost_per_token") or 0) + max_tokens * (info.get("output_cost_per_token") or 0)
        )


@cache
def takes_schema(model: str) -> bool:
    """litellm's own answer, from its model list: `openai/gpt-4o-mini` yes, an unlisted `openai/house-model` no."""
    provider, _, name = model.partition("/") if "/" in model else ("", "", model)
    return bool(litellm().supports_response_schema(model=name, custom_llm_provider=provider or None))


def _known(lib: ModuleType, model: str) -> bool:
    try:
        lib.get_model_info(model)
    except Exception:
        return False
    return True


def cache_marked(model: str, messages: list[Message]) -> list[Message]:
    """Anthropic caches a prompt prefix only where asked: mark the system prompt (the stable part). OpenAI,
    DeepSeek and others cache long shared prefixes on their own; the order of our prompts is what helps them."""
    if not model.startswith(("anthropic/", "claude")) or not messages or messages[0]["role"] != "system":
        return messages
    system = {"type": "text", "text": messages[0]["content"], "cache_control": {"type": "ephemeral"}}
    return [{"role": "system", "content": [system]}, *messages[1:]]


async def _streamed(
    lib: ModuleType, model: str, messages: list[Message], options: dict[str, Any], on_text: OnText
) -> Any:
    """The answer streamed: `on_text` gets the text so far as it grows (the progress message shows it); the chunks
    are then built into one response, so usage and cost are read as for any other."""
    options = {**options, "stream": True, "stream_options": {"include_usage": True}}
    stream = await lib.acompletion(model=model, messages=messages, **options)
    chunks, text, finished = [], "", False
    async for chunk in stream:
        chunks.append(chunk)
        delta = chunk.choices[0].delta.content if chunk.choices else None
        finished = finished or bool(chunk.choices and chunk.choices[0].finish_reason)
        if delta:
            text += delta
            await on_text(text)
    if not finished:  # the stream ended without saying why: the connection was cut, not the answer finished
        raise ConnectionError("server disconnected mid-answer")
    return lib.stream_chunk_builder(chunks, messages=messages)


def format_options(fmt: Format, schema: Schema | None) -> dict[str, Any]:
    """The request's `response_format` for a rung of the ladder (none for plain text)."""
    if fmt == "json_schema" and schema is not None:
        return {"response_format": response_format(schema)}
    return {"response_format": {"type": "json_object"}} if fmt != "text" else {}


def _private(url: str) -> bool:
    host = urlsplit(url).hostname or ""
    if host in ("localhost", "host.docker.internal") or host.endswith((".local", ".internal", ".lan")):
        return True
    try:
        return ipaddress.ip_address(host).is_private or ipaddress.ip_address(host).is_loopback
    except ValueError:
        return "." not in host  # a bare name: a container or a host on the local network (`ollama`, `gpu-box`)


_NOISE = re.compile(r"^(?:litellm\.\w+: )?(?:\w+Error: )?(?:\w+Exception - )?")


def classify_error(err: Exception, where: str = "") -> ModelError:
    """The error in Deputy's tree, with the whole cause (llama.cpp puts it on the second line), and in words where
    litellm's name would mislead: a refused connection is not a "500", nor is a stream cut mid-answer (litellm wraps
    its connection error in a `MidStreamFallbackError` 500)."""
    inner = getattr(err, "original_exception", None)
    if isinstance(inner, Exception) and inner is not err:
        return classify_error(inner, where)
    status = getattr(err, "status_code", None)
    name = type(err).__name__
    cause = _NOISE.sub("", " ".join(str(err).split()))[:2000]
    message = f"{name}{f' {status}' if status else ''}: {cause}"
    if name == "AuthenticationError" or "missing credentials" in message.lower() or "api key" in message.lower():
        return ModelPermanent(f"{message} — check the provider's API key (e.g. OPENAI_API_KEY)")
    if name == "APIConnectionError" or cause.lower().startswith(("connection error", "server disconnected")):
        return ModelUnreachable(f"can't reach the model server at {where} ({cause or name})")
    if name == "Timeout" or status == 408:
        return ModelTimeout(f"the model server at {where} did not answer in time")  # litellm's cause says no more
    if isinstance(status, int) and status in (400, 422, 500) and (what := refusal(cause)):
        return ModelRefused(message, what)
    if status in (409, 429) or (isinstance(status, int) and status >= 500) or name in _TRANSIENT:
        return ModelTransient(message, _retry_after(err))
    return ModelPermanent(message)


_TRANSIENT = frozenset(
    {"APIConnectionError", "Timeout", "RateLimitError", "InternalServerError", "ServiceUnavailableError"}
)


def _retry_after(err: Exception) -> float | None:
    """The provider's Retry-After: litellm keeps its headers on `litellm_response_headers` (the `response` it
    attaches to the error has none)."""
    headers = getattr(err, "litellm_response_headers", None) or getattr(getattr(err, "response", None), "headers", None)
    headers = headers or {}
    try:
        value = headers.get("retry-after")
        return float(value) if value else None
    except (TypeError, ValueError):
        return None
