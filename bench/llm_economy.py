"""What Deputy's caching saves: 100 requests sharing context (the same playbooks, the same memory, some
asked twice) replayed through the real runner and the real model client (`openai/…`: agents/openai_compat.py)
against the local OpenAI-compatible server, which counts prompt tokens and the cached prefix tokens a provider would
bill at a tenth.

Baseline, in the same run: the same requests with Deputy's response cache off and a provider without prefix
caching. Target: billed input tokens ≤ 0.5× the baseline, and no repeated call for an identical deterministic
step. Run: `python -m bench.llm_economy` (or `make bench`)."""

from __future__ import annotations

import asyncio
import os
import tempfile
from dataclasses import dataclass

from agents.runner import PlaybookRunner
from bench.common import start_redis, stop
from bot.wiring import build_runtime
from config.settings import settings_with
from memory.embedded import free_port
from memory.records import Source
from orchestrator.model import Actor, ChatRef, Task
from tests.conftest import serve
from tests.fakes.openai_api import FakeOpenAI

MODEL = "openai/gpt-4o-mini"
FACTS = [
    "ACME Corp's billing contact is Jane Doe, jane@acme.com",
    "ACME pays net 30; invoices go out on the 1st",
    "Globex's buyer is Hank Scorpio, hank@globex.com; prefers short emails",
    "Initech is in a contract renewal until December",
    "Our standard day rate is 900 EUR, travel billed at cost",
    "Invoice 42 to ACME was due on 3 November and is unpaid",
    "Sign emails as Sam, Deputy Consulting",
    "Never discuss pricing with Initech before the renewal call",
]
TOPICS = ["invoice 42", "the renewal", "next week's workshop", "the Q4 retainer", "the travel costs", "a thank-you"]
PEOPLE = ["jane@acme.com", "hank@globex.com", "bill@initech.com", "ops@acme.com", "finance@globex.com"]


def workload() -> list[str]:
    """100 requests: 60 distinct ones and 40 the operator sends again (a retry, a second thought)."""
    distinct = [f"email {p} a follow-up about {t}" for t in TOPICS for p in PEOPLE]
    distinct += [f"reply to {p} about {t}" for t in TOPICS[:4] for p in PEOPLE]
    distinct += [f"plan {t} with the team" for t in TOPICS[:5]] + [f"note that {t} is on hold" for t in TOPICS[:5]]
    assert len(distinct) == 60
    return distinct + [distinct[i * 3 % 60] for i in range(40)]


@dataclass
class Run:
    label: str
    calls: int
    repeats: int
    prompt_tokens: int
    cached_tokens: int
    billed_input: float
    usd: float


async def replay(url: str, server: FakeOpenAI, api: str, *, cached: bool) -> Run:
    server.reset(prefix_cache=cached)
    data = tempfile.mkdtemp(prefix="deputy-bench-llm-")
    settings = settings_with(
        {"REDIS_URL": url, "DEPUTY_DATA_DIR": data, "DEPUTY_LLM_MODEL": MODEL, "DEPUTY_LLM_API_BASE": api}
    )
    runtime = build_runtime(settings)
    await runtime.redis.flushall()
    runner = runtime.drafter
    assert isinstance(runner, PlaybookRunner)
    if not cached:
        runner.models.cache = None
    for fact in FACTS:
        await runtime.memory.remember(fact, Source(by="bench"))
    actor, chat = Actor("console", "bench"), ChatRef("console", "bench")
    for n, text in enumerate(workload()):
        task = Task(f"t{n}", text, actor, chat, f"e{n}", runtime.coordinator.core.clock.now())
        await runner.draft(task)
    calls = [e for _, e in await runtime.ledger.read(count=10_000) if e.type == "ModelCalled"]
    await runtime.close()
    s = server.stats
    label = "Deputy caching" if cached else "no caching (baseline)"
    return Run(
        label, s.requests, s.repeats, s.prompt_tokens, s.cached_tokens, s.billed_input, sum(c.cost_usd for c in calls)
    )


async def main() -> None:
    os.environ.setdefault("OPENAI_API_KEY", "sk-bench")
    redis, url = start_redis()
    server, port = FakeOpenAI(), free_port()
    site = await serve(server.app(), port)
    api = f"http://127.0.0.1:{port}/v1"
    try:
        baseline = await replay(url, server, api, cached=False)
        deputy = await replay(url, server, api, cached=True)
    finally:
        await site.cleanup()
        stop([redis])
    print(f"{len(workload())} requests, model {MODEL} on the local OpenAI-compatible server")
    print(f"{'':24} {'calls':>6} {'repeats':>8} {'prompt tok':>11} {'cached tok':>11} {'billed in':>10} {'$':>9}")
    for r in (baseline, deputy):
        print(
            f"{r.label:24} {r.calls:>6} {r.repeats:>8} {r.prompt_tokens:>11} {r.cached_tokens:>11}"
            f" {r.billed_input:>10.0f} {r.usd:>9.5f}"
        )
    ratio = deputy.billed_input / baseline.billed_input
    print(f"billed input tokens: {ratio:.2f}× the baseline (target ≤ 0.5×); calls {deputy.calls} vs {baseline.calls}")
    print(f"repeated identical calls with Deputy's caching: {deputy.repeats} (target 0)")


if __name__ == "__main__":
    asyncio.run(main())
