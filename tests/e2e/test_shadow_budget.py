"""A shadow run with a priced model (over HTTP to the local OpenAI-compatible server) spends against
today's budget like any drafting: its calls show in /budget under the model and in the ledger marked shadow, and
when the cap is reached mid-run the run stops and says so."""

from __future__ import annotations

import json

import pytest

from bot.shadow import run_shadow
from bot.wiring import Runtime
from orchestrator.outbound import money
from tests.agents.conftest import MODEL
from tests.conftest import settings_from
from tests.e2e.test_shadow import request
from tests.fakes.openai_api import FakeOpenAI

CAP = "0.0008"
"""Each call reserves its worst case first (about $0.00065: 1000 tokens out) and costs about $0.00003: this cap
lets a few calls through, then refuses one."""
REQUESTS = 12


async def test_the_budget_stops_a_shadow_run_midway_and_it_says_so(
    runtime: Runtime,
    env: dict[str, str],
    openai_server: tuple[FakeOpenAI, str],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for n in range(REQUESTS):  # recorded on the built-in model: free
        await request(runtime, f"email client{n}@example.com about invoice {n}")
    server, url = openai_server
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    priced = settings_from({**env, "DEPUTY_LLM_API_BASE": url, "DEPUTY_DAILY_BUDGET_USD": CAP})
    code = await run_shadow(priced, since="1d", playbooks_dir=None, model=MODEL, limit=None, as_json=True)
    summary = json.loads(capsys.readouterr().out)["summary"]
    assert code == 1 and "today's model budget is used up" in summary["stopped"]
    drafted = summary["requests"]
    assert 0 < drafted < REQUESTS and drafted + summary["not_drafted"] == REQUESTS
    assert server.stats.requests == drafted
    calls = [e for _, e in await runtime.ledger.read(count=10_000) if e.type == "ModelCalled" and e.cost_usd]
    assert len(calls) == drafted and all(c.detail["shadow"] and c.detail["model"] == MODEL for c in calls)
    core = runtime.coordinator.core
    assert core.spend is not None
    spent = await core.spend.day(core.today())
    assert spent == pytest.approx(sum(c.cost_usd for c in calls))
    assert spent <= float(CAP) + max(c.cost_usd for c in calls)  # over the cap by one call at most
    assert f"{MODEL}: {money(spent)} in {drafted} calls" in await runtime.coordinator.views.budget_text()
    assert summary["cost_now_usd"] == pytest.approx(spent, abs=1e-6) and summary["cost_then_usd"] == 0


async def test_the_report_says_it_stopped(
    runtime: Runtime,
    env: dict[str, str],
    openai_server: tuple[FakeOpenAI, str],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    await request(runtime, "email jane@acme.com about invoice 42")
    _, url = openai_server
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    broke = settings_from({**env, "DEPUTY_LLM_API_BASE": url, "DEPUTY_DAILY_BUDGET_USD": "0"})
    code = await run_shadow(broke, since="1d", playbooks_dir=None, model=MODEL, limit=None, as_json=False)
    lines = capsys.readouterr().out.splitlines()
    assert code == 1 and "0 requests: 0 same action, 0 differ; cost $0.00 then → $0.00 now" in lines
    assert "Stopped: today's model budget is used up ($0.0000 of $0.00); 1 request(s) not drafted." in " ".join(lines)
