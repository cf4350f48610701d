"""The LLM economy with the real model client (`openai/…`: agents/openai_compat.py) over HTTP against a local
OpenAI-compatible server (tests/fakes/openai_api.py): drafts, cost, cache, retries, breaker, repair and validation."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from bot.wiring import build_runtime
from connectors.breaker import Breaker
from orchestrator import commands as cmd
from orchestrator.commands import Inbound
from orchestrator.errors import ModelPaused
from orchestrator.model import ProposalDraft, Reply, Task
from orchestrator.outbound import money
from tests.agents.conftest import MODEL, Llm, llm_env
from tests.conftest import settings_from
from tests.connectors.test_breaker import Clock
from tests.fakes.openai_api import FakeOpenAI
from tests.orchestrator.conftest import CONSOLE, ME
from tests.orchestrator.test_model import NOW


async def test_a_configured_model_drafts_the_email_with_its_cost_in_the_ledger(llm: Llm) -> None:
    draft = await llm.draft("email jane@acme.com a follow-up on invoice 42")
    assert isinstance(draft, ProposalDraft)
    [(kind, fields)] = draft.actions
    assert kind == "email.send" and fields["to"] == "jane@acme.com"
    assert fields["body"].startswith("Hello from the test model.")
    [call] = await llm.calls()
    assert call.task_id == "t1" and call.detail["model"] == MODEL and call.detail["tier"] == "draft"
    assert call.detail["tokens_in"] > 100 and call.cost_usd > 0 and call.detail["priced"]
    assert draft.cost_spent_usd == pytest.approx(call.cost_usd) and not draft.flagged
    budget = await llm.runtime.coordinator.views.budget_text()
    assert f"{MODEL}: {money(call.cost_usd)} in 1 calls" in budget


async def test_the_same_deterministic_request_twice_makes_one_model_call(llm: Llm) -> None:
    first = await llm.draft("email jane@acme.com about the contract")
    second = await llm.draft("email jane@acme.com about the contract", "t2")
    assert first == second or (isinstance(second, ProposalDraft) and second.cost_spent_usd == 0)
    assert llm.server.stats.requests == 1
    calls = await llm.calls()
    assert [c.detail["cache_hit"] for c in calls] == [False, True] and calls[1].cost_usd == 0


async def test_a_429_is_retried_then_succeeds(llm: Llm) -> None:
    llm.script({"status": 429, "headers": {"Retry-After": "0"}, "message": "slow down"})
    draft = await llm.draft("email jane@acme.com about invoice 42")
    assert isinstance(draft, ProposalDraft)
    assert llm.server.stats.requests == 2


async def test_repeated_500s_open_the_circuit_and_the_drafts_wait_for_it(llm: Llm) -> None:
    llm.script(*[{"status": 500}] * 10)
    first = await llm.draft("email jane@acme.com about invoice 42")
    assert isinstance(first, Reply) and not first.ok and "failed 3 times" in first.text
    with pytest.raises(ModelPaused, match=r"failed 5 times in a row.*pausing it") as opened:
        await llm.draft("email jane@acme.com about invoice 43", "t2")
    with pytest.raises(ModelPaused, match="paused after 5 failures") as still:  # the task waits (agents/jobs.py)
        await llm.draft("email jane@acme.com about invoice 44", "t3")
    assert still.value.open_until == pytest.approx(opened.value.open_until, abs=1)  # until the breaker lets calls in
    assert llm.server.stats.requests == 5  # the open circuit fails fast, without calling


async def test_a_fallback_model_takes_over_and_the_card_says_degraded(
    env: dict[str, str], openai_server: tuple[FakeOpenAI, str]
) -> None:
    server, url = openai_server
    runtime = build_runtime(settings_from({**env, **llm_env(url, DEPUTY_LLM_FALLBACK_MODEL="offline")}))
    try:
        server.script.extend([{"status": 503}] * 9)
        for n in range(3):  # the third finds the provider's circuit open: the fallback still drafts
            text = f"email jane@acme.com about invoice {n}"
            draft = await runtime.drafter.draft(Task(f"t{n}", text, ME, CONSOLE, "e", NOW))
            assert isinstance(draft, ProposalDraft) and "⚠ Degraded" in draft.summary
            assert "fallback offline" in draft.summary
            assert draft.actions[0][1]["body"].startswith("Hi Jane")  # the offline model's draft
        assert isinstance(draft, ProposalDraft) and "paused after 5 failures" in draft.summary
        assert server.stats.requests == 5
    finally:
        await runtime.close()


async def test_malformed_json_gets_one_repair(llm: Llm) -> None:
    llm.script({"content": "Sure! Here is the email: Dear Jane…"})
    draft = await llm.draft("email jane@acme.com about invoice 42")
    assert isinstance(draft, ProposalDraft) and llm.server.stats.requests == 2
    assert "not valid JSON" in str(llm.server.last_messages[-1]["content"])  # the repair said what was wrong
    assert [c.detail["step"] for c in await llm.calls()] == ["draft", "repair"]


async def test_malformed_json_twice_is_a_clear_failure(llm: Llm) -> None:
    llm.script({"content": "not json"}, {"content": "{still not"})
    draft = await llm.draft("email jane@acme.com about invoice 42")
    assert isinstance(draft, Reply) and not draft.ok
    assert "invalid twice" in draft.text and "Nothing was staged" in draft.text


@pytest.mark.parametrize(
    ("answer", "why"),
    [
        ({"fields": {"to": "boss@evil.example", "subject": "s", "body": "b"}}, "appears in neither"),
        (
            {"fields": {"to": "jane@acme.com", "subject": "s", "body": "b"}, "action": "webhook.post"},
            "Extra inputs are not permitted",
        ),
        (
            {"fields": {"to": "jane@acme.com", "subject": "s", "body": "b", "cc": "all@acme.com"}},
            "Extra inputs are not permitted",
        ),
    ],
)
async def test_a_different_recipient_or_a_new_action_kind_is_rejected(
    llm: Llm, answer: dict[str, Any], why: str
) -> None:
    llm.script({"content": json.dumps(answer)}, {"content": json.dumps(answer)})
    draft = await llm.draft("email jane@acme.com about invoice 42")
    assert isinstance(draft, Reply) and not draft.ok and why in draft.text


async def test_low_confidence_gets_the_verify_tier_and_its_doubt_shows(llm: Llm) -> None:
    llm.server.confidence = 0.3
    llm.script(
        {
            "content": '{"summary": "Email Jane", "confidence": 0.3, "fields": {"to": "jane@acme.com", '
            '"subject": "s", "body": "b"}}'
        },
        {"content": '{"ok": false, "problem": "the invoice number is missing"}'},
    )
    draft = await llm.draft("email jane@acme.com about invoice 42")
    assert isinstance(draft, ProposalDraft) and "⚠ Verifier: the invoice number is missing" in draft.summary
    assert draft.flagged
    assert [(c.detail["step"], c.detail["tier"]) for c in await llm.calls()] == [
        ("draft", "draft"),
        ("verify", "verify"),
    ]


async def test_an_unknown_model_is_unpriced_and_an_override_prices_it(
    env: dict[str, str], openai_server: tuple[FakeOpenAI, str]
) -> None:
    _, url = openai_server
    for prices, expected in (("", None), ("openai/house-model=1/2", "priced")):
        extra = llm_env(url, DEPUTY_LLM_MODEL="openai/house-model", DEPUTY_LLM_PRICES=prices)
        runtime = build_runtime(settings_from({**env, **extra}))
        try:
            await runtime.redis.flushall()
            draft = await runtime.drafter.draft(Task("t1", "email jane@acme.com about x", ME, CONSOLE, "e", NOW))
            assert isinstance(draft, ProposalDraft)
            budget = await runtime.coordinator.views.budget_text()
            if expected is None:
                assert "unpriced" in draft.summary and "1 unpriced" in budget and draft.cost_spent_usd == 0
            else:
                assert draft.cost_spent_usd > 0 and "unpriced" not in budget
        finally:
            await runtime.close()


async def test_a_proposal_from_the_model_goes_through_the_core_as_pending(llm: Llm) -> None:
    """End of the path: the core stages what the runner drafted; the model can't approve it."""
    core = llm.runtime.coordinator
    await core.receive(Inbound(actor=ME, chat=CONSOLE, text="email jane@acme.com about invoice 42", event_id="ev1"))
    [task_id] = await llm.runtime.store.ids("task", "received")
    task = await core.handle(cmd.StartTask(task_id))
    await core.handle(cmd.CompleteDraft(task_id, await llm.runner.draft(task)))
    [pid] = await llm.runtime.store.ids("proposal", "pending")
    proposal = await core.core.proposal(pid)
    assert proposal.cost_spent_usd > 0 and proposal.actions[0].fields["to"] == "jane@acme.com"


async def test_the_provider_breaker_opens_cools_probes_and_reopens_three_times_then_closes(llm: Llm) -> None:
    clock = Clock()
    llm.runner.models.breaker = lambda name: Breaker(llm.runtime.redis, f"llm.{name}", clock=clock)
    llm.script(*[{"status": 500}] * 7)
    await llm.draft("email jane@acme.com about invoice 41")  # 3 failures
    for cycle in range(3):
        before = llm.server.stats.requests
        with pytest.raises(ModelPaused, match="pausing it for 60 s"):
            await llm.draft(f"email jane@acme.com about invoice 4{cycle}", f"t{cycle}a")
        with pytest.raises(ModelPaused, match="paused after 5 failures") as fast:
            await llm.draft("email jane@acme.com about invoice 50", f"t{cycle}b")
        assert fast.value.open_until == clock.now + 60
        assert llm.server.stats.requests - before == (2 if cycle == 0 else 1)  # a probe's failure reopens at once
        clock.now += 61
    closed = await llm.draft("email jane@acme.com about invoice 60", "t9")
    assert isinstance(closed, ProposalDraft)  # the probe succeeded
    assert await llm.runtime.redis.exists("deputy:circuit:llm.openai") == 0


async def test_a_hosted_model_without_its_key_is_said_before_any_call(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Issue 29 (#12): not the provider's "InternalServerError 500 … Missing credentials", cut mid-word."""
    from agents.transports import LiteLLMTransport
    from orchestrator.errors import ModelPermanent

    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.chdir(tmp_path)  # no .env here
    with pytest.raises(ModelPermanent, match=r"^openai/gpt-4o-mini has no API key: set OPENAI_API_KEY in the envir"):
        await LiteLLMTransport()(
            "openai/gpt-4o-mini", [{"role": "user", "content": "hi"}], json_mode=False, max_tokens=5
        )
