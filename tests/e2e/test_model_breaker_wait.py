"""A draft that meets its model provider's open breaker waits for it behind a real worker: its message says until
when, RQ runs the same job again then, and the draft is made — nothing ends "failed" with a promise nobody keeps."""

from __future__ import annotations

import time

from bot.wiring import Runtime
from tests.conftest import Workers, eventually
from tests.e2e.helpers import converse
from tests.fakes.openai_api import FakeOpenAI


async def test_a_draft_waits_for_the_open_model_breaker_and_is_made_when_it_closes(
    model_runtime: Runtime, workers: Workers, openai_server: tuple[FakeOpenAI, str]
) -> None:
    server, _ = openai_server
    workers.start()
    # RQ's registration: the warm job process registers once it has imported the model library (a few seconds on a
    # busy machine), so the 3 s below are spent by the draft, not by the start.
    await eventually(lambda: model_runtime.redis.scard("rq:workers"), 60, "the job process to start")
    reopens = time.time() + 3
    circuit: dict[str | bytes, str | float] = {"failures": 5, "open_until": reopens}  # 5 failures paused it
    await model_runtime.redis.hset("deputy:circuit:llm.openai", mapping=circuit)  # type: ignore[arg-type]
    transcript = await converse(model_runtime, "email jane@acme.com a follow-up on invoice 42")
    assert "Waiting: llm.openai is paused after 5 failures in a row" in transcript, transcript
    assert "Deputy will carry on at" in transcript and "(wait 1 of at most 6)" in transcript
    assert "Test model draft (email)" in transcript  # drafted once the breaker let calls through
    assert "failed" not in transcript.lower()
    assert server.stats.requests >= 1 and time.time() >= reopens
    events = [e.type for _, e in await model_runtime.ledger.read()]
    assert "ProposalStaged" in events and "TaskFailed" not in events
