"""A real model configured (the native client over HTTP to the local OpenAI-compatible server), real `deputy worker`
processes, the console channel: the card shows the model's draft and its cost, /budget shows the spend, and
the hard budget pauses work across workers until the operator raises it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from bot.wiring import Runtime, build_runtime
from orchestrator.model import Proposal
from orchestrator.outbound import money
from tests.agents.conftest import MODEL, llm_env
from tests.conftest import Workers, eventually, settings_from
from tests.e2e.helpers import converse, proposal_id, send
from tests.fakes.openai_api import FakeOpenAI

CAP = "0.001"


@pytest.fixture
async def model_runtime(env: dict[str, str], openai_server: tuple[FakeOpenAI, str]) -> AsyncIterator[Runtime]:
    _, url = openai_server
    env.update(llm_env(url, DEPUTY_DAILY_BUDGET_USD=CAP))  # workers started after this read it too
    runtime = build_runtime(settings_from(env))
    yield runtime
    await runtime.close()


async def test_the_card_shows_the_models_draft_and_its_cost(
    model_runtime: Runtime, workers: Workers, openai_server: tuple[FakeOpenAI, str]
) -> None:
    server, _ = openai_server
    workers.start()
    transcript = await converse(model_runtime, "email jane@acme.com a follow-up on invoice 42")
    assert "Test model draft (email)" in transcript and "Hello from the test model." in transcript
    [call] = [e for _, e in await model_runtime.ledger.read() if e.type == "ModelCalled"]
    assert call.cost_usd > 0 and call.detail["model"] == MODEL
    assert f"spent {money(call.cost_usd)}" in transcript
    budget = await converse(model_runtime, "/budget")
    assert f"{MODEL}: {money(call.cost_usd)} in 1 calls" in budget and f"of ${float(CAP):.2f}" in budget
    assert server.stats.requests == 1


async def test_over_budget_tasks_pause_across_workers_and_resume_when_raised(
    model_runtime: Runtime, workers: Workers, openai_server: tuple[FakeOpenAI, str]
) -> None:
    server, _ = openai_server
    workers.start()
    workers.start()
    count = 12
    await asyncio.gather(
        *(send(model_runtime, f"email jane@acme.com about invoice {n}", f"ev{n}") for n in range(count))
    )
    store, spend = model_runtime.store, model_runtime.coordinator.core.spend
    assert spend is not None

    async def settled() -> bool:
        return not any([await store.ids("task", s) for s in ("received", "running")])

    await eventually(settled, timeout=60, what="every task to be drafted or paused")
    paused = await store.ids("task", "paused")
    date = model_runtime.coordinator.core.today()
    calls = [e for _, e in await model_runtime.ledger.read() if e.type == "ModelCalled"]
    assert paused, "the budget should have run out"
    assert await spend.day(date) <= float(CAP) + max(c.cost_usd for c in calls)  # at most one call over
    assert server.stats.requests == len(calls) == count - len(paused)

    async def asks() -> list[Proposal]:  # the budget questions waiting (staged with the first pause)
        pending = [await model_runtime.coordinator.core.proposal(i) for i in await store.ids("proposal", "pending")]
        return [p for p in pending if p.playbook == "budget"]

    await eventually(asks, timeout=30, what="the budget question")
    await asyncio.sleep(0.5)
    [ask] = await asks()  # one question, however many tasks paused
    assert ask.actions[0].kind == "budget.raise" and ask.status.value == "pending"

    transcript = await converse(model_runtime, f"/approve {ask.id}")
    assert "Raised today's model budget by $0.01" in transcript or "Approved" in transcript

    async def all_drafted() -> bool:
        return len(await store.ids("task", "proposed")) == count

    await eventually(all_drafted, timeout=60, what="the paused tasks to resume and be drafted")
    assert server.stats.requests == count  # each task's draft was paid for once
    assert await spend.cap(date) == pytest.approx(float(CAP) + 0.01)


async def test_stop_fails_the_paused_tasks_and_sends_nothing(
    model_runtime: Runtime, workers: Workers, openai_server: tuple[FakeOpenAI, str]
) -> None:
    await model_runtime.redis.hset(f"deputy:budget:{model_runtime.coordinator.core.today()}", "spent", CAP)
    workers.start()
    transcript = await converse(model_runtime, "email jane@acme.com about invoice 42")
    assert "budget is used up" in transcript
    ask = proposal_id(transcript)
    transcript = await converse(model_runtime, f"/reject {ask}")
    store = model_runtime.store
    await eventually(lambda: store.ids("task", "failed"), timeout=20, what="the paused task to stop")
    [failed] = await store.ids("task", "failed")
    task = await model_runtime.coordinator.core.task(failed)
    assert "budget is used up" in task.error and "Nothing was sent" in task.error
    assert not await store.ids("task", "paused")
