"""A small OpenAI-compatible server for tests and benchmarks: `/v1/chat/completions` and `/v1/embeddings`.

It behaves like a provider where Deputy can tell: it counts prompt tokens (one per word), reports
`prompt_tokens_details.cached_tokens` for a prefix shared with an earlier request (providers cache prefixes
in blocks once they are long enough), answers JSON drafts for Deputy's prompts, and plays a script of
failures or raw answers first (`POST /_script`). `GET /_stats` says what it saw.

Structured outputs as OpenAI does them: a `json_schema` response format is checked against strict mode's rules
(refused with a 400 in OpenAI's words, e.g. "'default' is not permitted") and answered in the schema's shape.
JSON mode gets the shape the prompt describes — or, with `own_shape`, one of the server's own (the fields at the
top level and a `playbook` key), as a schema-following server did when it was given no schema.

Modes taken from real local servers (llama.cpp, llama-cpp-python, Ollama), each a field of `FakeOpenAI`:
- `strict`: the chat template checks roles ("500": llama-cpp-python's answer, "400": llama-server's), and with
  `no_system` it has no system role either (Gemma 2's template);
- `takes`: the response formats the server takes; llama-cpp-python refuses `json_schema` with a 500;
- `ramble`: answers run on for that many words, cut at the request's `max_tokens` (`finish_reason: "length"`);
- `delay_s`, `single_slot`: a slow model; with one slot, requests wait their turn, and one the client abandoned
  keeps computing (as llama.cpp and Ollama do); `stall_on`: a request whose messages contain that text is never
  answered (the others are);
- `ttft_s` and `tokens_per_s` shape a streamed answer (`stream: true`); `drop_after` closes the connection after
  that many chunks, once (a server killed mid-answer, and back); `drop_next` closes that many connections before
  answering.

Run standalone with `python -m tests.fakes.openai_api PORT [--no-prefix-cache]`."""

from __future__ import annotations

import asyncio
import hashlib
import json
import math
import re
import sys
import time
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

CACHE_MIN_TOKENS = 64
CACHE_BLOCK = 16
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+\.[\w.]+")


@dataclass
class Stats:
    requests: int = 0
    prompt_tokens: int = 0
    cached_tokens: int = 0
    completion_tokens: int = 0
    embeddings: int = 0
    repeats: int = 0
    """Requests identical to an earlier one (same model and messages): what a response cache should absorb."""
    models: list[str] = field(default_factory=list)
    steps: list[str] = field(default_factory=list)

    @property
    def billed_input(self) -> float:
        """Input tokens as billed: cached ones at a tenth of the price (a typical provider discount)."""
        return self.prompt_tokens - self.cached_tokens + self.cached_tokens * 0.1


@dataclass
class FakeOpenAI:
    prefix_cache: bool = True
    confidence: float = 0.9
    own_shape: bool = False
    """Without a schema, answer drafts in a shape of the server's own instead of the prompt's."""
    stats: Stats = field(default_factory=Stats)
    formats: list[dict[str, Any] | None] = field(default_factory=list)
    """Each request's `response_format`, as it arrived."""
    script: list[dict[str, Any]] = field(default_factory=list)
    seen: list[list[str]] = field(default_factory=list)
    last_messages: list[dict[str, Any]] = field(default_factory=list)
    hashes: set[str] = field(default_factory=set)
    strict: str = ""
    no_system: bool = False
    takes: frozenset[str] = frozenset({"json_schema", "json_object", "text"})
    ramble: int = 0
    delay_s: float = 0.0
    single_slot: bool = False
    ttft_s: float = 0.0
    tokens_per_s: float = 0.0
    drop_after: int = 0
    drop_next: int = 0
    """Close that many connections without answering (a server killed mid-request)."""
    stall_on: str = ""
    stalled: int = 0
    _released: asyncio.Event = field(default_factory=asyncio.Event)
    max_tokens: list[int] = field(default_factory=list)
    """Each request's `max_tokens`, as it arrived."""
    finished: int = 0
    """Requests the server computed to the end, abandoned ones included."""
    _slot: asyncio.Lock = field(default_factory=asyncio.Lock)

    def app(self) -> web.Application:
        app = web.Application()
        for prefix in ("", "/v1"):
            app.router.add_post(f"{prefix}/chat/completions", self.chat)
            app.router.add_post(f"{prefix}/embeddings", self.embeddings)
        app.router.add_post("/_script", self.set_script)
        app.router.add_get("/_stats", self.get_stats)
        return app

    async def set_script(self, request: web.Request) -> web.Response:
        self.script.extend(await request.json())
        return web.json_response({"queued": len(self.script)})

    async def get_stats(self, request: web.Request) -> web.Response:
        return web.json_response({**self.stats.__dict__, "billed_input": self.stats.billed_input})

    def release(self) -> None:
        """Let go of the stalled requests (nobody waits for them any more) and stall no more."""
        self.stall_on = ""
        self._released.set()

    def reset(self, *, prefix_cache: bool) -> None:
        self.prefix_cache, self.stats, self.seen, self.hashes = prefix_cache, Stats(), [], set()
        self.formats = []

    async def chat(self, request: web.Request) -> web.StreamResponse:
        body = await request.json()
        self.stats.requests += 1
        self.stats.models.append(str(body.get("model")))
        messages = body.get("messages", [])
        self.last_messages = messages
        digest = hashlib.sha256(json.dumps([body.get("model"), messages], sort_keys=True).encode()).hexdigest()
        self.stats.repeats += digest in self.hashes
        self.hashes.add(digest)
        self.stats.steps.append(_step(messages))
        response_format = body.get("response_format")
        self.formats.append(response_format)
        self.max_tokens.append(int(body.get("max_tokens") or 0))
        if refusal := refused(response_format):
            error = {"message": refusal, "type": "invalid_request_error", "param": "response_format"}
            return web.json_response({"error": {**error, "code": "invalid_json_schema"}}, status=400)
        if problem := self.template_problem(messages, response_format):
            return problem
        if self.stall_on and self.stall_on in json.dumps(messages):
            self.stalled += 1
            await self._released.wait()  # never answered until `release()`: the client gives up first
        if self.script:
            step = self.script.pop(0)
            if "status" in step:
                return web.json_response(
                    {"error": {"message": step.get("message", "scripted failure"), "type": "server_error"}},
                    status=step["status"],
                    headers=step.get("headers", {}),
                )
            content = str(step["content"])
        else:
            content = json.dumps(self.reply(messages, response_format))
        content, finish = self.cut(content, int(body.get("max_tokens") or 0))
        tokens = _tokens(messages)
        cached = self._cached(tokens)
        out = len(content.split())
        self.stats.prompt_tokens += len(tokens)
        self.stats.cached_tokens += cached
        self.stats.completion_tokens += out
        await asyncio.shield(self.compute())  # an abandoned request keeps the server busy all the same
        if self.drop_next > 0:
            self.drop_next -= 1
            assert request.transport is not None
            request.transport.close()  # the connection drops before the answer
            return web.Response()
        usage = {
            "prompt_tokens": len(tokens),
            "completion_tokens": out,
            "total_tokens": len(tokens) + out,
            "prompt_tokens_details": {"cached_tokens": cached},
        }
        if body.get("stream"):
            return await self.stream(request, body, content, finish, usage)
        return web.json_response(
            {
                "id": f"chatcmpl-{self.stats.requests}",
                "object": "chat.completion",
                "created": int(time.time()),
                "model": body.get("model"),
                "choices": [
                    {"index": 0, "finish_reason": finish, "message": {"role": "assistant", "content": content}}
                ],
                "usage": usage,
            }
        )

    def template_problem(self, messages: list[dict[str, Any]], response_format: Any) -> web.Response | None:
        """What a strict chat template or a server without some response format answers, in its words."""
        roles = [m.get("role") for m in messages]
        if self.no_system and "system" in roles:
            return _error(500 if self.strict != "400" else 400, "System role not supported")
        body = roles[1:] if roles[:1] == ["system"] else roles
        if self.strict and any(r != ("user" if i % 2 == 0 else "assistant") for i, r in enumerate(body)):
            if self.strict == "400":
                return _error(400, LLAMA_SERVER_ALTERNATION)
            return _error(500, LLAMA_CPP_PYTHON_ALTERNATION)
        kind = response_format.get("type") if isinstance(response_format, dict) else "text"
        if kind not in self.takes:
            return _error(500, LLAMA_CPP_PYTHON_FORMAT.format(kind=kind))
        return None

    def cut(self, content: str, max_tokens: int) -> tuple[str, str]:
        """A rambling model's answer (the body run on), cut at `max_tokens` words as a server cuts it."""
        if self.ramble:
            content = content.replace('\\n"', " " + "a " * self.ramble + '\\n"', 1)
        words = content.split(" ")
        if max_tokens and len(words) > max_tokens:
            return " ".join(words[:max_tokens]), "length"
        return content, "stop"

    async def compute(self) -> None:
        if not self.single_slot:
            await asyncio.sleep(self.delay_s)
            self.finished += 1
            return
        async with self._slot:
            await asyncio.sleep(self.delay_s)
            self.finished += 1

    async def stream(
        self, request: web.Request, body: dict[str, Any], content: str, finish: str, usage: dict[str, Any]
    ) -> web.StreamResponse:
        """Server-sent chunks: the first after `ttft_s`, then one word each at `tokens_per_s` (unpaced, as fast as a
        server batches them: about 50 words a chunk, never two alike — litellm takes a run of identical chunks for a
        model repeating itself); with `stream_options.include_usage`, OpenAI's last chunk: no choices, the usage."""
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        await asyncio.sleep(self.ttft_s)
        words = content.split(" ")
        if not self.tokens_per_s:
            batched: list[str] = []
            i = 0
            while i < len(words):
                size = 40 + len(batched) % 23
                batched.append(" ".join(words[i : i + size]))
                i += size
            words = batched
        for n, word in enumerate(words):
            if self.drop_after and n >= self.drop_after:
                self.drop_after = 0
                assert request.transport is not None
                request.transport.close()  # the connection drops mid-answer
                return response
            delta = {"content": word if n == 0 else f" {word}"}
            last = n == len(words) - 1
            await response.write(_chunk(body, delta, finish if last else None))
            if self.tokens_per_s and not last:
                await asyncio.sleep(1 / self.tokens_per_s)
        if (body.get("stream_options") or {}).get("include_usage"):
            await response.write(_chunk(body, {}, None, usage))
        await response.write(b"data: [DONE]\n\n")
        return response

    def _cached(self, tokens: list[str]) -> int:
        best = 0
        if self.prefix_cache:
            for earlier in self.seen:
                n = 0
                for a, b in zip(earlier, tokens, strict=False):
                    if a != b:
                        break
                    n += 1
                best = max(best, n)
        self.seen.append(tokens)
        return best // CACHE_BLOCK * CACHE_BLOCK if best >= CACHE_MIN_TOKENS else 0

    def reply(self, messages: list[dict[str, Any]], response_format: Any) -> Any:
        """The answer in the shape asked for: the schema's; else the prompt's, or with `own_shape` the server's."""
        answer = self.answer(messages)
        if isinstance(response_format, dict) and response_format.get("type") == "json_schema":
            return shaped(answer, response_format["json_schema"]["schema"])
        if self.own_shape and "fields" in answer:
            return {
                "playbook": _playbook(messages),
                **{k: v for k, v in answer.items() if k != "fields"},
                **answer["fields"],
            }
        return answer

    def answer(self, messages: list[dict[str, Any]]) -> dict[str, Any]:
        """What a sensible model answers to Deputy's prompts."""
        request = _tag("request", messages)
        step = _step(messages)
        if step == "classify":
            low = request.lower()
            name = "email" if "email" in low or "mail" in low else "webhook" if " post " in f" {low}" else "note"
            return {"playbook": "answer" if request.strip().endswith("?") else name}
        if step == "verify":
            return {"ok": True}
        if step == "revise":
            return revised(json.loads(_tag("draft", messages) or "{}"), _tag("feedback", messages))
        kind = _playbook(messages)
        if kind == "email":
            to = (_EMAIL.findall(request) or _EMAIL.findall(_tag("memory", messages)) or ["nobody@example.com"])[0]
            fields = {"to": to, "subject": "Following up", "body": f"Hello from the test model.\n\n{request}\n"}
        elif kind == "answer":
            fields = {"answer": f"The test model says: {_tag('memory', messages)[:200]}"}
        elif kind == "webhook":
            target = re.search(r"to (?:the )?([\w-]+)", request)
            fields = {"name": target[1] if target else "hook", "text": request[:200]}
        else:
            fields = {"title": request[:80] or "Note", "body": f"The test model's plan for: {request}"}
        return {"summary": f"Test model draft ({kind})", "confidence": self.confidence, "fields": fields}

    async def embeddings(self, request: web.Request) -> web.Response:
        body = await request.json()
        inputs = body["input"] if isinstance(body["input"], list) else [body["input"]]
        self.stats.embeddings += len(inputs)
        data = [{"object": "embedding", "index": i, "embedding": embed(str(text))} for i, text in enumerate(inputs)]
        tokens = sum(len(str(t).split()) for t in inputs)
        return web.json_response(
            {
                "object": "list",
                "data": data,
                "model": body.get("model"),
                "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
            }
        )


LLAMA_CPP_PYTHON_ALTERNATION = "Conversation roles must alternate user/assistant/user/assistant/..."
LLAMA_SERVER_ALTERNATION = (
    "Unable to generate parser for this template. Automatic parser generation failed: \n"
    "Conversation roles must alternate user/assistant/user/assistant/..."
)
LLAMA_CPP_PYTHON_FORMAT = (
    "1 validation error:\n  {{'type': 'literal_error', 'loc': ('body', 'response_format', 'type'), "
    "'msg': \"Input should be 'text' or 'json_object'\", 'input': '{kind}', "
    "'ctx': {{'expected': \"'text' or 'json_object'\"}}}}"
)


def _error(status: int, message: str) -> web.Response:
    kind = "server_error" if status >= 500 else "invalid_request_error"
    return web.json_response({"error": {"message": message, "type": kind, "code": status}}, status=status)


def _chunk(body: dict[str, Any], delta: dict[str, Any], finish: str | None, usage: Any = None) -> bytes:
    choice = {"index": 0, "delta": delta, "finish_reason": finish}
    data = {"id": "chatcmpl-s", "object": "chat.completion.chunk", "created": int(time.time())}
    data.update(model=body.get("model"), choices=[] if usage else [choice])
    if usage:
        data["usage"] = usage
    return f"data: {json.dumps(data)}\n\n".encode()


def revised(draft: dict[str, Any], feedback: str) -> dict[str, Any]:
    """What a sensible model does with a revision: the draft it was shown, changed where the feedback says."""
    fields = dict(draft.get("fields") or {})
    for name in ("body", "text", "note"):
        if isinstance(fields.get(name), str):
            fields[name] = f"{fields[name].rstrip()}\n\nRevised by the test model: {feedback}\n"
            break
    if "subject" in fields:
        fields["subject"] = f"{fields['subject']} (revised)"
    return {"summary": f"Test model revision: {feedback}"[:300], "confidence": 0.9, "fields": fields}


def shaped(value: Any, schema: dict[str, Any]) -> Any:
    """`value` fitted to `schema` as constrained decoding fits a model's answer: the schema's keys, each taken from
    the answer where it has one (the model's own text), an empty value where it has none, nothing else."""
    if "enum" in schema:
        return value if value in schema["enum"] else schema["enum"][0]
    kind = schema.get("type")
    if kind == "object":
        given = value if isinstance(value, dict) else {}
        return {key: shaped(given.get(key), sub) for key, sub in schema.get("properties", {}).items()}
    if kind == "array":
        return [shaped(item, schema.get("items", {})) for item in value] if isinstance(value, list) else []
    return value if isinstance(value, _TYPES.get(str(kind), object)) else _EMPTY.get(str(kind))


_TYPES: dict[str, type | tuple[type, ...]] = {"string": str, "number": (int, float), "integer": int, "boolean": bool}
_EMPTY: dict[str, Any] = {"string": "", "number": 0, "integer": 0, "boolean": False}


def refused(response_format: Any) -> str:
    """Why OpenAI's strict mode would refuse the request's schema, in its words; "" when it would take it."""
    if not isinstance(response_format, dict) or response_format.get("type") != "json_schema":
        return ""
    spec = response_format.get("json_schema") or {}
    problem = _strict_problem(spec.get("schema") or {}, ()) if spec.get("strict") else ""
    return f"Invalid schema for response_format '{spec.get('name')}': {problem}" if problem else ""


def _strict_problem(node: dict[str, Any], path: tuple[str, ...]) -> str:
    if "default" in node:
        return f"In context={path}, 'default' is not permitted."
    properties = node.get("properties", {})
    if node.get("type") == "object" and node.get("additionalProperties") is not False:
        return f"In context={path}, 'additionalProperties' is required to be supplied and to be false."
    if missing := [key for key in properties if key not in node.get("required", [])]:
        return (
            f"In context={path}, 'required' is required to be supplied and to be an array including every key in "
            f"properties. Missing '{missing[0]}'."
        )
    inner = [((*path, "properties", k), v) for k, v in properties.items()]
    inner += [((*path, "$defs", k), v) for k, v in node.get("$defs", {}).items()]
    inner += [((*path, "items"), node["items"])] if isinstance(node.get("items"), dict) else []
    inner += [((*path, "anyOf", str(n)), v) for n, v in enumerate(node.get("anyOf", []))]
    return next((p for where, sub in inner if (p := _strict_problem(sub, where))), "")


def embed(text: str, dims: int = 256) -> list[float]:
    """A provider-side embedder unlike Deputy's offline one: hashed character trigrams of each word."""
    vector = [0.0] * dims
    for word in re.findall(r"[a-z0-9]+", text.lower()):
        padded = f"#{word}#"
        for i in range(len(padded) - 2):
            h = int.from_bytes(hashlib.blake2b(padded[i : i + 3].encode(), digest_size=4).digest(), "little")
            vector[h % dims] += 1.0 if h & 1 << 31 else -1.0
    norm = math.sqrt(sum(v * v for v in vector)) or 1.0
    return [v / norm for v in vector]


def _tokens(messages: list[dict[str, Any]]) -> list[str]:
    return " ".join(f"<{m.get('role')}> {_content(m)}" for m in messages).split()


def _content(message: dict[str, Any]) -> str:
    content = message.get("content", "")
    if isinstance(content, list):
        return " ".join(str(part.get("text", "")) for part in content)
    return str(content)


def _playbook(messages: list[dict[str, Any]]) -> str:
    found = re.search(r"^Playbook: (\w+)", _content(messages[0]), re.M) if messages else None
    return found[1] if found else "note"


def _step(messages: list[dict[str, Any]]) -> str:
    found = re.search(r"^Step: (\w+)", _content(messages[0]), re.M) if messages else None
    return found[1] if found else ""


def _tag(tag: str, messages: list[dict[str, Any]]) -> str:
    text = "\n".join(_content(m) for m in messages if m.get("role") == "user")
    found = re.search(rf"<{tag}>\n(.*?)\n</{tag}>", text, re.S)
    if not found:
        return ""
    return found[1].replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


if __name__ == "__main__":
    web.run_app(
        FakeOpenAI(prefix_cache="--no-prefix-cache" not in sys.argv).app(),
        host="127.0.0.1",
        port=int(sys.argv[1]),
        print=None,
    )
