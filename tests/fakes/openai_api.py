"""A small OpenAI-compatible server for tests and benchmarks: `/v1/chat/completions` and `/v1/embeddings`.

It behaves like a provider where Deputy can tell: it counts prompt tokens (one per word), reports
`prompt_tokens_details.cached_tokens` for a prefix shared with an earlier request (providers cache prefixes
in blocks once they are long enough), answers JSON drafts for Deputy's prompts, and plays a script of
failures or raw answers first (`POST /_script`). `GET /_stats` says what it saw.

Run standalone with `python -m tests.fakes.openai_api PORT [--no-prefix-cache]`."""

from __future__ import annotations

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
    stats: Stats = field(default_factory=Stats)
    script: list[dict[str, Any]] = field(default_factory=list)
    seen: list[list[str]] = field(default_factory=list)
    last_messages: list[dict[str, Any]] = field(default_factory=list)
    hashes: set[str] = field(default_factory=set)

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

    def reset(self, *, prefix_cache: bool) -> None:
        self.prefix_cache, self.stats, self.seen, self.hashes = prefix_cache, Stats(), [], set()

    async def chat(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.stats.requests += 1
        self.stats.models.append(str(body.get("model")))
        messages = body.get("messages", [])
        self.last_messages = messages
        digest = hashlib.sha256(json.dumps([body.get("model"), messages], sort_keys=True).encode()).hexdigest()
        self.stats.repeats += digest in self.hashes
        self.hashes.add(digest)
        self.stats.steps.append(_step(messages))
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
            content = json.dumps(self.answer(messages))
        tokens = _tokens(messages)
        cached = self._cached(tokens)
        out = len(content.split())
        self.stats.prompt_tokens += len(tokens)
        self.stats.cached_tokens += cached
        self.stats.completion_tokens += out
        return web.json_response(
            {
                "id": f"chatcmpl-{self.stats.requests}",
                "object": "chat.completion",
                "created": int(time.time()),
                "model": body.get("model"),
                "choices": [
                    {"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": content}}
                ],
                "usage": {
                    "prompt_tokens": len(tokens),
                    "completion_tokens": out,
                    "total_tokens": len(tokens) + out,
                    "prompt_tokens_details": {"cached_tokens": cached},
                },
            }
        )

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

    def answer(self, messages: list[dict[str, Any]]) -> dict[str, Any]:
        """What a sensible model answers to Deputy's prompts."""
        system = str(messages[0].get("content", "")) if messages else ""
        request = _tag("request", messages)
        step = _step(messages)
        if step == "classify":
            low = request.lower()
            name = "email" if "email" in low or "mail" in low else "webhook" if " post " in f" {low}" else "note"
            return {"playbook": "answer" if request.strip().endswith("?") else name}
        if step == "verify":
            return {"ok": True}
        playbook = re.search(r"^Playbook: (\w+)", system, re.M)
        kind = playbook[1] if playbook else "note"
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
