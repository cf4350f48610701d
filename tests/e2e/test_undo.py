"""The undo window with a real worker and SMTP server: held, then sent once — or cancelled with nothing sent."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import pytest

from bot.wiring import Runtime, build_runtime
from tests.conftest import Smtp, Workers, eventually, settings_from
from tests.e2e.helpers import converse, proposal_id, send


@pytest.fixture
async def undoable(env: dict[str, str]) -> AsyncIterator[Runtime]:
    runtime = build_runtime(settings_from({**env, "DEPUTY_UNDO_SECONDS": "2"}), env["REDIS_URL"])
    yield runtime
    await runtime.close()


async def test_undo_within_the_window_sends_nothing(undoable: Runtime, workers: Workers, smtp: Smtp) -> None:
    workers.start()
    pid = proposal_id(await converse(undoable, "email jane@acme.com about invoice 42"))
    await send(undoable, f"/approve {pid}", "a1")  # no waiting for the outcome: undo comes first
    undone = await converse(undoable, f"/undo {pid}")
    assert f"Undone: {pid} was cancelled by you before it ran. Nothing was sent." in undone
    await asyncio.sleep(5)  # well past the window and a maintenance sweep
    assert smtp.messages == []
    assert "ProposalUndone" in [e.type for _, e in await undoable.ledger.read()]


async def test_after_the_window_it_is_sent_once_and_undo_is_too_late(
    undoable: Runtime, workers: Workers, smtp: Smtp
) -> None:
    workers.start()
    pid = proposal_id(await converse(undoable, "email jane@acme.com about invoice 42"))
    started = time.monotonic()
    done = await converse(undoable, f"/approve {pid}")
    assert f"sending in 2 s. /undo {pid} to cancel" in done
    assert "Done: Sent to jane@acme.com" in done and time.monotonic() - started >= 2
    assert len(smtp.messages) == 1
    late = await converse(undoable, f"/undo {pid}")
    assert f"Too late to undo {pid}: Sent to jane@acme.com." in late
    await eventually(lambda: len(smtp.messages) == 1, 1)
