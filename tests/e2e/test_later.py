"""Requests for later end to end, offline model, a real worker: "follow up with … in 1 minute about …" is a card
that says when and what; approved, it is scheduled (/status lists it, the card offers /cancel); when its time
comes it is its own card in the same chat, once, with two schedulers finding it at the same moment (their clock
set a minute on). The soak-marked test waits for real, with two `deputy scheduler` processes."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.wiring import Runtime, build_runtime
from memory import keys
from memory.codec import text
from orchestrator.fakes.world import FakeClock
from tests.conftest import Workers, eventually, settings_from
from tests.e2e.helpers import converse, proposal_id

ASK = "follow up with jane@acme.com in 1 minute about invoice 42"
LATER = "email jane@acme.com a follow-up about invoice 42"


async def cards_for(runtime: Runtime, words: str) -> list[dict[str, str]]:
    """The console's cards (as the terminal got them) that say `words`."""
    entries = await runtime.redis.xrange(keys.console("local")) or []
    said = [{text(k): text(v) for k, v in (fields or {}).items()} for _, fields in entries]
    return [f for f in said if f["kind"] == "card" and words in f["text"]]


async def scheduled(runtime: Runtime) -> str:
    card = await converse(runtime, ASK)
    pid = proposal_id(card)
    assert f"I'll draft: {LATER}" in card and " (UTC)" in card
    done = await converse(runtime, f"/approve {pid}")
    assert "Done: Scheduled for " in done and f"/cancel {pid}" in done
    return pid


async def test_it_comes_back_as_its_own_card_once_with_two_schedulers(
    runtime: Runtime, workers: Workers, env: dict[str, str]
) -> None:
    workers.start()
    pid = await scheduled(runtime)
    status = await converse(runtime, "/status")
    assert "Scheduled for later: 1" in status and f"— {LATER}  (/cancel {pid})" in status
    other = build_runtime(settings_from(env), env["REDIS_URL"])
    try:
        for deputy in (runtime, other):
            deputy.coordinator.core.clock = FakeClock(datetime.now(UTC) + timedelta(seconds=61))
        await asyncio.gather(runtime.scheduler.later_pass(), other.scheduler.later_pass())
    finally:
        await other.close()
    [card] = await eventually(lambda: cards_for(runtime, "to jane@acme.com"), 30, "the follow-up's own card")
    assert "I wanted to follow up on invoice 42." in card["text"] and card["proposal"] != pid
    submitted = [e for _, e in await runtime.ledger.read() if e.type == "TaskSubmitted" and e.summary == LATER]
    assert len(submitted) == 1
    [fired] = [e for _, e in await runtime.ledger.read() if e.type == "LaterFired"]
    assert fired.proposal_id == pid and fired.detail["task"] == submitted[0].task_id


async def test_cancelled_it_never_comes_back(runtime: Runtime, workers: Workers) -> None:
    workers.start()
    pid = await scheduled(runtime)
    cancelled = await converse(runtime, f"/cancel {pid}")
    assert f"Cancelled by you: {LATER} — it won't run." in cancelled
    runtime.coordinator.core.clock = FakeClock(datetime.now(UTC) + timedelta(minutes=5))
    await runtime.scheduler.later_pass()
    assert [e.type for _, e in await runtime.ledger.read()].count("TaskSubmitted") == 1


class Schedulers:
    """`deputy scheduler` processes, each in its own process group."""

    def __init__(self, env: dict[str, str], cwd: Path) -> None:
        self.env, self.cwd, self.processes = env, cwd, list[subprocess.Popen[bytes]]()

    def start(self) -> None:
        log = open(self.cwd / "scheduler.log", "ab")  # noqa: SIM115 (the process keeps it)
        command = [sys.executable, "-m", "bot.cli", "scheduler"]
        self.processes.append(
            subprocess.Popen(command, env=self.env, cwd=self.cwd, start_new_session=True, stdout=log, stderr=log)
        )

    def stop(self) -> None:
        for process in self.processes:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(15)


@pytest.fixture
def schedulers(env: dict[str, str], tmp_path: Path) -> Iterator[Schedulers]:
    running = Schedulers(env, tmp_path)
    yield running
    running.stop()


@pytest.mark.soak
async def test_a_minute_later_for_real_it_comes_back_once_with_two_scheduler_processes(
    runtime: Runtime, workers: Workers, schedulers: Schedulers
) -> None:
    workers.start()
    schedulers.start()
    schedulers.start()
    pid = await scheduled(runtime)
    [card] = await eventually(lambda: cards_for(runtime, "to jane@acme.com"), 130, "the follow-up's own card")
    assert card["proposal"] != pid
    await asyncio.sleep(12)  # two more passes of each scheduler
    assert len(await cards_for(runtime, "to jane@acme.com")) == 1
    submitted = [e for _, e in await runtime.ledger.read() if e.type == "TaskSubmitted" and e.summary == LATER]
    assert len(submitted) == 1
