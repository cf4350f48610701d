"""Streaming drafts and prompt sizes, against the test model server with a fixed time to first token and token rate.

1. Time to first visible text: a draft streamed through the real agent (runner, model port, the client for
   `openai/…` models: agents/openai_compat.py, litellm before) with the task's progress reporter installed, as a
   worker runs it; measured from the draft's start to the first progress text that
   shows the model's words. Baseline, in the same run: the same server's own time to first token, read by a bare
   streaming HTTP client. Reported as their ratio (target ≤ 1.2×). The chat platform's own delivery is not included.
2. Prompt tokens per request for the main flows (the server counts a word as a token), as the server saw them.
Run: `python -m bench.streaming [--runs 5] [--ttft 1.0] [--rate 20]`."""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import time
from datetime import UTC, datetime

import aiohttp
from aiohttp import web

from agents import progress
from bench.common import start_redis, stop
from bot.wiring import Runtime, build_runtime
from config.settings import settings_with
from memory.embedded import free_port
from memory.records import Source
from orchestrator.model import Actor, ChatRef, ProposalDraft, Task
from orchestrator.words import memory_ask
from tests.fakes.openai_api import FakeOpenAI

CHAT, ME = ChatRef("console", "bench"), Actor("console", "bench", "bench")
MODEL = "openai/gpt-4o-mini"
FLOWS = {
    "email": "email jane@acme.com a follow-up on invoice 42",
    "plan": "plan the launch of our newsletter",
    "onboarding": "onboard Piotr Kowalski piotr@northwind.example",
    "memory question": "when does Acme pay?",
}


def task(text: str, n: int) -> Task:
    return Task(f"t{n}", text, ME, CHAT, "e", datetime.now(UTC), memory=memory_ask(text))


async def bare_ttft(url: str) -> float:
    body = {"model": "m", "stream": True, "messages": [{"role": "user", "content": "hi"}]}
    start = time.perf_counter()
    first = 0.0
    async with aiohttp.ClientSession() as session, session.post(f"{url}/chat/completions", json=body) as r:
        async for _ in r.content:  # read to the end, as a client does: the server is not cut off mid-answer
            first = first or time.perf_counter() - start
    return first


async def first_text(runtime: Runtime, n: int) -> float:
    seen: list[float] = []
    start = time.perf_counter()

    async def show(text: str) -> None:
        if "“…" in text and not seen:
            seen.append(time.perf_counter() - start)

    async with progress.reporting(progress.Progress(show)):
        draft = await runtime.drafter.draft(task(f"{FLOWS['email']} (run {n})", n))
    assert isinstance(draft, ProposalDraft) and seen, draft
    return seen[0]


async def prompts(runtime: Runtime, server: FakeOpenAI) -> dict[str, float]:
    sizes: dict[str, float] = {}
    await runtime.memory.remember("Acme pays net 30", Source(by="bench"))
    for n, (name, text) in enumerate(FLOWS.items()):
        before, asked = server.stats.prompt_tokens, server.stats.requests
        draft = await runtime.drafter.draft(task(text, 100 + n))
        sizes[name] = (server.stats.prompt_tokens - before) / max(1, server.stats.requests - asked)
        if name == "email" and isinstance(draft, ProposalDraft):
            email = draft
    actions = [runtime.coordinator.core.stage(kind, fields) for kind, fields in email.actions]
    from orchestrator.model import Proposal

    proposal = Proposal("p100", "t100", CHAT, email.playbook, email.summary, actions, datetime.now(UTC))
    before, asked = server.stats.prompt_tokens, server.stats.requests
    await runtime.drafter.revise(task(FLOWS["email"], 100), proposal, "shorter, mention the late fee")
    sizes["revise"] = (server.stats.prompt_tokens - before) / max(1, server.stats.requests - asked)
    return sizes


async def main(runs: int, ttft: float, rate: float) -> None:
    redis, redis_url = start_redis()
    server, port = FakeOpenAI(ttft_s=ttft, tokens_per_s=rate), free_port()
    runner = web.AppRunner(server.app())
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    url = f"http://127.0.0.1:{port}/v1"
    values = {"REDIS_URL": redis_url, "DEPUTY_LLM_MODEL": MODEL, "DEPUTY_LLM_API_BASE": url}
    runtime = build_runtime(settings_with(values))
    try:
        await first_text(runtime, -1)  # warm: litellm's first call imports and connects
        pairs = [(await bare_ttft(url), await first_text(runtime, n)) for n in range(runs)]
        server.ttft_s, server.tokens_per_s = 0.0, 0.0
        sizes = await prompts(runtime, server)
    finally:
        await runtime.close()
        await runner.cleanup()
        stop([redis])
    model, deputy = statistics.median(p[0] for p in pairs), statistics.median(p[1] for p in pairs)
    print(f"load average {os.getloadavg()[0]:.2f}; model TTFT {ttft:.2f} s set, {rate:.0f} tokens/s; {runs} runs")
    print(f"model's own time to first token (bare client): median {model:.3f} s")
    print(f"Deputy's first visible text of the draft:       median {deputy:.3f} s  → {deputy / model:.2f}× the TTFT")
    print("prompt tokens per request: " + ", ".join(f"{k} {v:.0f}" for k, v in sizes.items()))


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--ttft", type=float, default=1.0)
    parser.add_argument("--rate", type=float, default=20.0)
    args = parser.parse_args()
    asyncio.run(main(args.runs, args.ttft, args.rate))
