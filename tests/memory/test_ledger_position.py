"""A ledger position for a time (how /stats, the digest's week and `deputy stats` start reading where their window
starts): against a real redis-server, reading after it gives what was appended from that time on."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from bot.wiring import Runtime
from orchestrator.events import TaskSubmitted


async def test_reading_after_a_times_position_gives_what_came_from_then(runtime: Runtime) -> None:
    before = TaskSubmitted(at=datetime.now(UTC), task_id="t-before")
    await runtime.store.commit([], [before])
    await asyncio.sleep(0.01)
    middle = datetime.now(UTC)
    await asyncio.sleep(0.01)
    await runtime.store.commit([], [TaskSubmitted(at=datetime.now(UTC), task_id="t-after")])
    ledger = runtime.ledger
    assert [e.task_id for _, e in await ledger.read(after=ledger.position(middle))] == ["t-after"]
    assert len(await ledger.read(after=ledger.position(middle - timedelta(hours=1)))) == 2
    assert await ledger.read(after=ledger.position(datetime.now(UTC) + timedelta(seconds=1))) == []
