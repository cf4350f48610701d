"""A slow model behind a real worker: the task's progress message says the step, the model and the time it has
taken, edited in place as it goes (the console prints each edit when piped; a terminal redraws its one line)."""

from __future__ import annotations

import re
from typing import Any

import pytest

from bot.wiring import Runtime
from tests.conftest import Workers, eventually
from tests.e2e.helpers import converse, proposal_id, send
from tests.fakes.openai_api import FakeOpenAI


async def test_a_slow_model_shows_its_step_and_the_time_it_has_taken(
    model_runtime: Runtime, workers: Workers, openai_server: tuple[FakeOpenAI, str]
) -> None:
    server, _ = openai_server
    server.delay_s = 7.0  # a model on a CPU
    workers.start()
    transcript = await converse(model_runtime, "email jane@acme.com a follow-up on invoice 42")
    shown = re.findall(r"Drafting with gpt-4o-mini · (\d+) s", transcript)
    assert shown and shown[0] == "0" and max(map(int, shown)) >= 3, transcript  # the clock moves on the message
    # at most one edit every 3 s of the time shown (the platforms allow about one a second); a busy machine
    # stretches the 7 s, and the pace is what must hold
    assert len(shown) <= max(map(int, shown)) / 3 + 2, shown
    assert "Test model draft (email)" in transcript


@pytest.mark.soak  # the fake server finishes computing the abandoned request before it shuts down
async def test_cancel_stops_a_running_task_abandons_the_call_and_stages_nothing(
    model_runtime: Runtime, workers: Workers, openai_server: tuple[FakeOpenAI, str]
) -> None:
    server, _ = openai_server
    server.delay_s = 8.0
    workers.start()
    await send(model_runtime, "email jane@acme.com a follow-up on invoice 42", "ev1")
    store = model_runtime.store

    async def drafting() -> list[str]:
        return await store.ids("task", "running") if server.stats.requests else []

    [task_id] = await eventually(drafting)
    transcript = await converse(model_runtime, f"/cancel {task_id}")
    assert "Stopped by you. Nothing was staged." in transcript, transcript

    async def abandoned() -> list[Any]:
        events = [e for _, e in await model_runtime.ledger.read() if e.task_id == task_id]
        return [e for e in events if e.type == "ModelCalled" and "stopped" in e.detail.get("error", "")]

    await eventually(abandoned)  # the worker gave up the model call (the server is still computing it)
    events = [e for _, e in await model_runtime.ledger.read() if e.task_id == task_id]
    [failed] = [e for e in events if e.type == "TaskFailed"]
    assert failed.actor and failed.detail["stopped_by"] == "you"
    assert not [e for e in events if e.type == "ProposalStaged"]
    assert await store.ids("proposal", "pending") == []


async def test_the_draft_streams_into_the_progress_message(
    model_runtime: Runtime, workers: Workers, openai_server: tuple[FakeOpenAI, str]
) -> None:
    server, _ = openai_server
    server.ttft_s, server.tokens_per_s = 0.5, 4.0  # a model on a CPU, writing as it goes
    workers.start()
    transcript = await converse(model_runtime, "email jane@acme.com a follow-up on invoice 42")
    growing = re.findall(r"Drafting with gpt-4o-mini · \d+ s · “…(.*)”", transcript)
    assert any("Hello from" in text for text in growing), transcript  # the body as it was written
    assert "Test model draft (email)" in transcript  # then the card
    [call] = [e for _, e in await model_runtime.ledger.read() if e.type == "ModelCalled"]
    assert call.detail["tokens_out"] > 0 and call.cost_usd > 0  # usage and cost read from the streamed answer


async def test_status_names_the_step_and_a_revision_shows_its_progress_too(
    model_runtime: Runtime, workers: Workers, openai_server: tuple[FakeOpenAI, str]
) -> None:
    server, _ = openai_server
    workers.start()
    pid = proposal_id(await converse(model_runtime, "email jane@acme.com a follow-up on invoice 42"))
    server.ttft_s, server.tokens_per_s = 1.5, 15.0  # now a model on a CPU, writing as it goes
    transcript = await converse(model_runtime, f"/revise {pid} shorter")
    head = f"Revising {pid} (v1 → v2): “shorter”"
    shown = re.findall(rf"{re.escape(head)} · Revising with gpt-4o-mini · (\d+) s", transcript)
    assert shown and shown[0] == "0", transcript  # the step and the clock, on the line the ask posted
    assert f"{head} · Revising with gpt-4o-mini · done in" in transcript
    assert "v2" in transcript.split(head)[-1]  # then the new version's card
    await send(model_runtime, "email bob@acme.com about the contract", "ev-status")
    store = model_runtime.store

    async def stepping() -> dict[str, str]:
        return await store.steps(await store.ids("task", "running"))

    [(task_id, step)] = (await eventually(stepping)).items()
    assert step == "Drafting with gpt-4o-mini"
    status = await converse(model_runtime, "/status")
    assert re.search(rf"  {task_id}: Drafting with gpt-4o-mini · \d+ s — email bob@acme.com", status), status
    await converse(model_runtime, f"/cancel {task_id}")  # stopped: the worker stops at once after the test
