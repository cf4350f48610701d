"""Timeouts that free the worker, against real processes: an SMTP server that holds `RCPT TO` far longer than
the job's timeout fails each attempt at the send's own deadline (half of DEPUTY_JOB_TIMEOUT_S), the other
emails keep flowing through the same two workers, nothing stalled is delivered, and the task ends failed with a
sentence the operator can read — no exception name. A model server that never answers one request is the same
for drafts: the call's own deadline ends the attempt, in words, and the other drafts flow."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from bot.wiring import Runtime, build_runtime
from memory.embedded import free_port
from memory.streams import range_after
from tests.agents.conftest import llm_env
from tests.conftest import Smtp, Workers, eventually, settings_from
from tests.e2e.helpers import send
from tests.fakes.openai_api import FakeOpenAI

STALL = "stall@example.com"
OTHERS = 4


class StallingSmtp(Smtp):
    """Holds RCPT TO for the stall address for ten minutes (or until the test ends); answers others at once."""

    stalled = 0

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, options: list[str]) -> str:
        if address == STALL:
            self.stalled += 1
            await asyncio.sleep(600)
        envelope.rcpt_tos.append(address)
        return "250 OK"


@pytest.fixture
def smtp() -> Iterator[StallingSmtp]:
    sink = StallingSmtp(free_port())
    controller = Controller(sink, hostname="127.0.0.1", port=sink.port)
    controller.start()
    yield sink
    controller.stop()


async def approve_when_staged(runtime: Runtime, n: int) -> list[str]:
    pending: list[str] = await eventually(lambda: _pending(runtime, n), 60, f"{n} cards")
    for pid in pending:
        await send(runtime, f"/approve {pid}", f"stall-approve-{pid}")
    return pending


async def _pending(runtime: Runtime, n: int) -> list[str] | None:
    found = await runtime.store.ids("proposal", "pending")
    return found if len(found) == n else None


@pytest.mark.soak
async def test_a_server_holding_rcpt_to_fails_the_attempt_not_the_workers(
    env: dict[str, str], smtp: StallingSmtp, tmp_path: Path
) -> None:
    own = {**env, "DEPUTY_JOB_TIMEOUT_S": "6", "DEPUTY_JOB_RETRY_S": "1,1,1"}  # each send gets 3 s; 4 attempts
    runtime = build_runtime(settings_from(own), own["REDIS_URL"])
    pool = Workers(own, tmp_path)
    try:
        started = [pool.start(), pool.start()]
        await send(runtime, f"email {STALL} about invoice 1", "stall-ask")
        await approve_when_staged(runtime, 1)
        await eventually(lambda: smtp.stalled, 30, "the stalled RCPT TO")
        for i in range(OTHERS):
            await send(runtime, f"email client{i}@example.com about invoice {i}", f"stall-other-{i}")
        await approve_when_staged(runtime, OTHERS)
        await eventually(lambda: len(smtp.messages) == OTHERS, 60, "the other emails, past the stalled one")
        failed = await eventually(lambda: runtime.store.ids("task", "failed"), 120, "the stalled task to end")
        assert all(p.poll() is None for p in started), "a worker exited"
        task = await runtime.store.get_task(failed[0])
        assert task and "stopped answering" in task.error and "Error" not in task.error
        assert "Exception" not in task.error and len(smtp.messages) == OTHERS

        async def tried() -> list[str]:  # the last attempt is told in a write after the task's state
            tries = [text for text in await said(runtime) if "Not done yet: the mail server" in text]
            return tries if len(tries) >= 4 else []

        tries = await eventually(tried, 30, "each attempt told")
        assert len(tries) == 4 and all("stopped answering" in text for text in tries)
        assert not any("Exception" in text or "ConnectorError" in text for text in await said(runtime))
    finally:
        pool.stop_all()
        await runtime.close()


@pytest.mark.soak
async def test_a_model_that_never_answers_fails_each_attempt_in_words_and_the_other_drafts_flow(
    env: dict[str, str], openai_server: tuple[FakeOpenAI, str], tmp_path: Path
) -> None:
    """A model server that never answers one request, behind two real workers: the call's own deadline
    (DEPUTY_LLM_TIMEOUT_S) ends that attempt, the operator reads one sentence for it — naming the setting — and the
    task ends failed (told, as docs/llm.md says); the other requests are drafted meanwhile and both workers live."""
    server, url = openai_server
    server.stall_on = "STALLME"
    own = {**env, **llm_env(url), "DEPUTY_LLM_TIMEOUT_S": "2", "DEPUTY_JOB_RETRY_S": "1,1,1"}
    runtime = build_runtime(settings_from(own), own["REDIS_URL"])
    pool = Workers(own, tmp_path)
    try:
        started = [pool.start(), pool.start()]
        await send(runtime, "email jane@acme.com about STALLME invoice 1", "hang-model")
        await eventually(lambda: server.stalled, 60, "the unanswered model call")
        for i in range(OTHERS):
            await send(runtime, f"email client{i}@example.com about invoice {i}", f"hang-other-{i}")
        await eventually(lambda: _pending(runtime, OTHERS), 90, "the other drafts, past the stalled one")
        [task_id] = await eventually(lambda: runtime.store.ids("task", "failed"), 60, "the stalled task to end")
        assert all(p.poll() is None for p in started), "a worker exited"
        task = await runtime.store.get_task(task_id)
        assert task and "did not answer in time" in task.error and "DEPUTY_LLM_TIMEOUT_S" in task.error

        await eventually(lambda: _saying(runtime, "Nothing was staged."), 30, "the failure said in the chat")
        told = [text for text in await said(runtime) if "did not answer in time" in text]
        assert len(told) == 1 and told[0].count("\n") == 0 and "Nothing was staged." in told[0], told
        assert not any(word in text for text in await said(runtime) for word in ("Exception", "Error:", "Timeout"))
    finally:
        server.release()  # the server lets go of the request nobody waits for
        pool.stop_all()
        await runtime.close()


@pytest.mark.soak
async def test_a_draft_past_its_job_timeout_ends_failed_with_a_sentence_and_the_worker_lives(
    env: dict[str, str], workers: Workers
) -> None:
    """A model that never answers within the job's timeout: each attempt is stopped, the worker lives on, and
    after the retries the task is failed with words, not `JobTimeoutException`."""
    own = {**env, "DEPUTY_JOB_RETRY_S": "1,1,1"}  # the retries the run job is queued with: 4 attempts
    runtime = build_runtime(settings_from(own), own["REDIS_URL"])
    try:
        worker = workers.start(DEPUTY_OFFLINE_LATENCY_MS="60000", DEPUTY_JOB_TIMEOUT_S="2")
        await send(runtime, "email jane@acme.com about invoice 42", "hang-forever")
        [task_id] = await eventually(lambda: runtime.store.ids("task", "failed"), 120, "the task to fail")
        task = await runtime.store.get_task(task_id)
        assert task and "ran past its time limit (2 s, DEPUTY_JOB_TIMEOUT_S)" in task.error

        await eventually(lambda: _saying(runtime, "ran past its time limit"), 30, "the failure said in the chat")
        assert not any("Exception" in text for text in await said(runtime)) and worker.poll() is None
    finally:
        await runtime.close()


async def said(runtime: Runtime) -> list[str]:
    """What the console chat shows. A failure is recorded, then said: tests wait for the saying."""
    return [f["text"] for _, f in await range_after(runtime.redis, "deputy:console:local", "0", count=1000)]


async def _saying(runtime: Runtime, words: str) -> bool:
    return any(words in text for text in await said(runtime))
