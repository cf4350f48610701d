"""`openai/<name>` models without litellm: OpenAI itself and every server that speaks its protocol (llama.cpp's
`llama-server`, Ollama's `/v1`, vLLM, LM Studio), called over aiohttp (imported on the first call).

`import litellm` is seconds of CPU and ~130 MB in the process that calls models (issue 30); this is one POST to
`/chat/completions` (or `/embeddings`), the same request litellm sends for these models (temperature 0, `max_tokens`
— `max_completion_tokens` and no temperature for OpenAI's reasoning models —, the `response_format` the ladder
chose, streamed with `stream_options.include_usage` when someone watches the draft), its usage read back and priced
from litellm's own price list (agents/price_list.py), and its failures put in Deputy's error tree as
`classify_error` puts litellm's. No retries here: agents/llm.py's are counted, backed off and breaker-aware.
One HTTP session per process and event loop (`session`), closed with the runtime (`close_session`)."""

from __future__ import annotations

import asyncio
import json
import os
import re
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from agents import price_list
from agents.capabilities import Format, refusal
from agents.litellm_lib import CHARS_PER_TOKEN, approx_tokens
from agents.llm import OnText, Raw
from agents.prompts import Message
from agents.schemas import Schema
from agents.transports import TIMEOUT_S, RemoteTransport, format_options
from config.providers import provider_env
from connectors import http_env
from orchestrator.errors import (
    ModelError,
    ModelPermanent,
    ModelRefused,
    ModelTimeout,
    ModelTransient,
    ModelUnreachable,
)

if TYPE_CHECKING:  # imported where a model server is called: a process that never calls one (an offline model's
    import aiohttp  # worker, `deputy ledger`) doesn't pay its 0.1 s of import and its SSL contexts

PREFIX = "openai/"
OPENAI_BASE = "https://api.openai.com/v1"
KEY = "OPENAI_API_KEY"
_REASONING = re.compile(r"^(?:o\d|gpt-(?:[5-9]|\d\d))")
_NAMES = {400: "BadRequestError", 401: "AuthenticationError", 403: "PermissionDeniedError", 404: "NotFoundError"}
_NAMES.update({409: "ConflictError", 422: "UnprocessableEntityError", 429: "RateLimitError"})
_SESSIONS: dict[asyncio.AbstractEventLoop, aiohttp.ClientSession] = {}
_PID = [os.getpid()]


def native(model: str) -> bool:
    """Called by this module, not litellm: a model named for OpenAI's protocol (`openai/<name>`), or a bare name
    litellm itself would send to OpenAI — a chat or embedding model its price list files under OpenAI
    (`gpt-4o-mini`, `text-embedding-3-small`); other bare names (`claude-…`) stay litellm's."""
    if model.startswith(PREFIX):
        return True
    if "/" in model or model == "offline":
        return False
    found = price_list.entries().get(model)
    return bool(found and found.get("mode") in ("chat", "embedding"))


def session() -> aiohttp.ClientSession:
    """This process's session on the running loop: connections are kept alive between calls, and a session never
    serves another loop (a test's, a failure callback's) nor crosses a fork."""
    import aiohttp

    loop = asyncio.get_running_loop()
    if _PID[0] != os.getpid():  # a forked child: the parent's sessions are not its own
        _SESSIONS.clear()
        _PID[0] = os.getpid()
    for gone in [old for old in _SESSIONS if old.is_closed()]:
        del _SESSIONS[gone]
    held = _SESSIONS.get(loop)
    if held is None or held.closed:
        held = _SESSIONS[loop] = aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=http_env.tls()))
    return held


def _post(url: str, body: dict[str, Any], headers: dict[str, str], timeout: aiohttp.ClientTimeout) -> Any:
    """A POST on this process's session, through the proxy the environment names for that host, if any."""
    proxy, auth = http_env.proxy_for(url)
    return session().post(url, json=body, headers=headers, timeout=timeout, proxy=proxy, proxy_auth=auth)


async def close_session() -> None:
    """Close the running loop's session (a runtime closing); the next call opens another."""
    held = _SESSIONS.pop(asyncio.get_running_loop(), None)
    if held is not None:
        await held.close()


@dataclass
class OpenAITransport(RemoteTransport):
    """The model port's last hop for `openai/<name>` (agents/llm.py `Transport`), as `LiteLLMTransport` is for the
    rest: the same settings, formats, errors and accounting."""

    def takes_schema(self, model: str) -> bool:
        return price_list.takes_schema(model)

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
        shape = self._format(model, json_mode, schema) if fmt is None else format_options(fmt, schema)
        body = request_body(model, messages, max_tokens, shape, stream=on_text is not None)
        where = base_url(self.api_base)
        answer = await post(where, "chat/completions", body, self._headers(model), self.timeout_s, on_text)
        return self._raw(model, messages, answer)

    def estimate(self, model: str, messages: list[Message], max_tokens: int) -> float:
        tokens_in = approx_tokens(messages)
        if model in self.prices:
            return self.prices[model].usd(tokens_in, max_tokens)
        return price_list.estimate(model, tokens_in, max_tokens)

    def _headers(self, model: str) -> dict[str, str]:
        """The key from the environment or `.env`; "none" for a server of the operator's own that wants none."""
        key = provider_env(KEY) or ("none" if self.local else "")
        if not key:  # said as what it is, before any call
            raise ModelPermanent(f"{model} has no API key: set {KEY} in the environment or .env")
        return auth_headers(key)

    def _raw(self, model: str, messages: list[Message], answer: Answer) -> Raw:
        usage = answer.usage
        tokens_in = int(usage.get("prompt_tokens") or 0) or approx_tokens(messages)
        tokens_out = int(usage.get("completion_tokens") or 0) or len(answer.text) // CHARS_PER_TOKEN
        cached = int((usage.get("prompt_tokens_details") or {}).get("cached_tokens") or 0)
        if model in self.prices:
            usd: float | None = self.prices[model].usd(tokens_in, tokens_out, cached)
        else:
            usd = price_list.cost([answer.model, model], tokens_in, tokens_out, cached)
        return Raw(answer.text, tokens_in, tokens_out, cached, usd, answer.finish or "stop")


@dataclass
class Answer:
    text: str = ""
    finish: str = ""
    model: str = ""
    usage: Mapping[str, Any] = field(default_factory=dict)


def request_body(
    model: str, messages: list[Message], max_tokens: int, shape: dict[str, Any], *, stream: bool
) -> dict[str, Any]:
    """What litellm sends OpenAI for the same call. Reasoning models (o1, o3, gpt-5…) take `max_completion_tokens`
    and only their default temperature, unless reasoning is off by default (gpt-5.1: `price_list.takes_temperature`)."""
    name = model.removeprefix(PREFIX)
    body: dict[str, Any] = {"model": name, "messages": _roles(name, messages), **shape}
    if _REASONING.match(name) and "gpt-5-chat" not in name:
        body["max_completion_tokens"] = max_tokens
        if price_list.takes_temperature(name):
            body["temperature"] = 0
    else:
        body.update(temperature=0, max_tokens=max_tokens)
    if stream:
        body.update(stream=True, stream_options={"include_usage": True})
    return body


def _roles(name: str, messages: list[Message]) -> list[Message]:
    """litellm's rule for OpenAI's o-series: the system prompt goes as a user message where its price list doesn't
    say the model takes a system role."""
    entry = price_list.entries().get(name) if re.match(r"o\d", name) else None
    if entry is None or entry.get("supports_system_messages"):
        return messages
    return [{"role": "user", "content": m["content"]} if m["role"] == "system" else m for m in messages]


def base_url(api_base: str | None) -> str:
    """DEPUTY_LLM_API_BASE, else OPENAI_BASE_URL or OPENAI_API_BASE (as litellm reads them), else OpenAI's."""
    return api_base or provider_env("OPENAI_BASE_URL") or provider_env("OPENAI_API_BASE") or OPENAI_BASE


def auth_headers(key: str) -> dict[str, str]:
    headers = {"Authorization": f"Bearer {key}"}
    if org := provider_env("OPENAI_ORG_ID") or provider_env("OPENAI_ORGANIZATION"):
        headers["OpenAI-Organization"] = org
    if project := provider_env("OPENAI_PROJECT_ID"):
        headers["OpenAI-Project"] = project
    return headers


async def post(
    where: str, path: str, body: dict[str, Any], headers: dict[str, str], timeout_s: float, on_text: OnText | None
) -> Answer:
    """One request; the answer read whole, or streamed to `on_text`. A timeout counts the wait for the answer to
    start and each gap between its pieces, as the OpenAI client's does: a slow writer is not cut mid-answer."""
    import aiohttp

    timeout = aiohttp.ClientTimeout(total=None, connect=timeout_s, sock_read=timeout_s)
    url = f"{where.rstrip('/')}/{path}"
    async with (
        in_words(where, "model"),
        _post(url, body, headers, timeout) as response,
    ):
        if response.status >= 400:
            raise http_error(response.status, await response.text(), response.headers, where)
        if on_text is not None:
            return await streamed(response, on_text, where)
        return whole(await response.text(), where)


@asynccontextmanager
async def in_words(where: str, server: str) -> AsyncIterator[None]:
    """A request's failures in Deputy's tree: no answer in time, or no server to answer (said as what happened,
    not as a status no server sent)."""
    import aiohttp

    try:
        yield
    except ModelError:
        raise
    except TimeoutError:
        raise ModelTimeout(f"the {server} server at {where} did not answer in time") from None
    except (aiohttp.ClientError, OSError) as err:
        raise ModelUnreachable(f"can't reach the {server} server at {where} ({_why(err)})") from err


def whole(body: str, where: str) -> Answer:
    try:
        data = json.loads(body)
        choice = data["choices"][0]
        text = choice["message"].get("content") or ""
    except (ValueError, KeyError, IndexError, TypeError, AttributeError):
        raise ModelTransient(f"the model server at {where} answered no chat completion: {body[:300]}") from None
    usage = data.get("usage") or {}
    return Answer(str(text), str(choice.get("finish_reason") or ""), str(data.get("model") or ""), usage)


async def streamed(response: aiohttp.ClientResponse, on_text: OnText, where: str) -> Answer:
    """Server-sent chunks: the text so far to `on_text` as it grows; usage from the last chunk. A stream that ends
    without a finish reason was cut, not finished."""
    import aiohttp

    answer = Answer()
    async for data in events(response):
        try:
            chunk = json.loads(data)
        except ValueError:
            raise ModelTransient(f"the model server at {where} sent a broken chunk: {data[:300]!r}") from None
        if isinstance(chunk.get("error"), dict | str):
            raise http_error(500, data.decode(errors="replace"), {}, where)
        answer.model = str(chunk.get("model") or answer.model)
        answer.usage = chunk.get("usage") or answer.usage
        for choice in chunk.get("choices") or []:
            answer.finish = str(choice.get("finish_reason") or answer.finish)
            if delta := (choice.get("delta") or {}).get("content"):
                answer.text += str(delta)
                await on_text(answer.text)
    if not answer.finish:
        raise aiohttp.ServerDisconnectedError("server disconnected mid-answer")
    return answer


async def events(response: aiohttp.ClientResponse) -> AsyncIterator[bytes]:
    """Each `data:` payload of the stream up to `[DONE]`, however the bytes arrive (no line-length limit)."""
    pending = b""
    async for piece in response.content.iter_any():
        *lines, pending = (pending + piece).split(b"\n")
        for line in lines:
            data = line.strip()[5:].strip() if line.strip().startswith(b"data:") else b""
            if data == b"[DONE]":
                return
            if data:
                yield data


def http_error(status: int, text: str, headers: Mapping[str, str], where: str) -> ModelError:
    """The server's refusal in Deputy's tree, with its own words (llama.cpp puts the cause in the body), as
    agents/transports.py `classify_error` puts litellm's."""
    cause = " ".join(_message(text).split())[:2000]
    name = _NAMES.get(status, "InternalServerError" if status >= 500 else "APIError")
    message = f"{name} {status}: {cause}"
    if status in (401, 403) or "api key" in message.lower() or "missing credentials" in message.lower():
        return ModelPermanent(f"{message} — check the provider's API key (e.g. OPENAI_API_KEY)")
    if status == 408:
        return ModelTimeout(f"the model server at {where} did not answer in time")
    if status in (400, 422, 500) and (what := refusal(cause)):
        return ModelRefused(message, what)
    if status in (409, 429) or status >= 500:
        return ModelTransient(message, retry_after(headers))
    return ModelPermanent(message)


def _message(text: str) -> str:
    """`{"error": {"message": …}}` (OpenAI, llama.cpp), `{"detail": …}` (FastAPI servers), or the body as it is."""
    try:
        data = json.loads(text)
    except ValueError:
        return text
    if not isinstance(data, dict):
        return text
    error = data.get("error", data.get("detail", data.get("message", text)))
    if isinstance(error, dict):
        error = error.get("message", error)
    return error if isinstance(error, str) else json.dumps(error)


def retry_after(headers: Mapping[str, str]) -> float | None:
    try:
        value = headers.get("retry-after") or headers.get("Retry-After")
        return float(value) if value else None
    except (TypeError, ValueError):
        return None


def _why(err: BaseException) -> str:
    """The cause in a few words, without the address (already said) or a port that could read as a status."""
    import aiohttp

    if isinstance(err, aiohttp.ServerDisconnectedError):
        return "server disconnected mid-answer" if "mid-answer" in str(err.message) else "server disconnected"
    if isinstance(err, aiohttp.ClientPayloadError):
        return "server disconnected mid-answer"
    if isinstance(err, aiohttp.ClientConnectorDNSError):
        return "host name not found"
    number = getattr(getattr(err, "os_error", err), "errno", None)
    return os.strerror(number) if isinstance(number, int) else type(err).__name__


async def embed(model: str, texts: list[str], api_base: str | None) -> list[list[float]]:
    """`/embeddings` for `openai/<name>` embedding models (agents/embeddings.py), in the order of `texts`."""
    import aiohttp

    where, key = base_url(api_base), provider_env(KEY) or "none"
    body = {"model": model.removeprefix(PREFIX), "input": texts}
    timeout = aiohttp.ClientTimeout(total=None, connect=TIMEOUT_S, sock_read=TIMEOUT_S)
    url = f"{where.rstrip('/')}/embeddings"
    async with (
        in_words(where, "embedding"),
        _post(url, body, auth_headers(key), timeout) as response,
    ):
        if response.status >= 400:
            raise http_error(response.status, await response.text(), response.headers, where)
        data = await response.json(content_type=None)
    return [item["embedding"] for item in sorted(data["data"], key=lambda item: item.get("index", 0))]


def sibling(remote: RemoteTransport) -> OpenAITransport:
    """The transport for `openai/…` models beside litellm's: the same server, prices, formats, timeout and retries
    (the worker's wiring and `deputy doctor` both take it from here)."""
    return OpenAITransport(
        remote.api_base, remote.prices, remote.structured, timeout=remote.timeout, retries_set=remote.retries_set
    )
