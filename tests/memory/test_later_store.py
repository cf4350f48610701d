"""The store of requests for later keeps its promises on a real Redis, under concurrency: a key put twice is
scheduled once, an item fires once however many take it, a cancel and a take resolve to one, and what is due,
upcoming or a proposal's comes back as it was put."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from bot.wiring import Runtime
from memory.later import RedisLater
from orchestrator.ports import Scheduled

AT = datetime(2026, 12, 4, 9, 0, tzinfo=UTC)


async def test_put_twice_schedules_once_and_due_comes_at_its_time(runtime: Runtime) -> None:
    later = RedisLater(runtime.redis)
    first = Scheduled("p1:0", "email jane@acme.com a follow-up", AT)
    assert await later.put(first) and not await later.put(Scheduled("p1:0", "something else", AT))
    await later.put(Scheduled("p2:0", "call Anna", AT + timedelta(hours=1), remind=True))
    assert await later.due(AT - timedelta(seconds=1)) == []
    assert await later.due(AT) == [first]
    assert [i.key for i in await later.upcoming()] == ["p1:0", "p2:0"]
    [reminder] = await later.of("p2")
    assert reminder.remind and reminder.request == "call Anna" and reminder.at == AT + timedelta(hours=1)


async def test_an_item_fires_once_however_many_take_it(runtime: Runtime) -> None:
    later = RedisLater(runtime.redis)
    await later.put(Scheduled("p1:0", "x", AT))
    taken = await asyncio.gather(*(later.take("p1:0") for _ in range(5)))
    assert all(t is not None and t.status == "firing" for t in taken)  # a pass that died leaves it to the next
    fired = await asyncio.gather(*(later.fired("p1:0", "t9") for _ in range(5)))
    assert sum(fired) == 1 and await later.take("p1:0") is None
    [item] = await later.of("p1")
    assert item.status == "fired" and item.task_id == "t9" and await later.due(AT + timedelta(days=1)) == []


async def test_a_cancel_and_a_take_resolve_to_one(runtime: Runtime) -> None:
    later = RedisLater(runtime.redis)
    await later.put(Scheduled("p1:0", "x", AT))
    await later.put(Scheduled("p2:0", "y", AT))
    cancelled = await later.cancel("p1:0")
    assert cancelled is not None and cancelled.status == "cancelled" and await later.take("p1:0") is None
    assert await later.take("p2:0") is not None
    too_late = await later.cancel("p2:0")
    assert too_late is not None and too_late.status == "firing"
    assert await later.cancel("p3:0") is None


async def test_a_reminder_fired_is_unsaid_in_the_same_step_until_the_chat_has_it(runtime: Runtime) -> None:
    later = RedisLater(runtime.redis)
    await later.put(Scheduled("p3:0", "call Anna", AT, remind=True))
    assert await later.take("p3:0") is not None
    fired = await asyncio.gather(*(later.fired("p3:0", "", unsaid=True) for _ in range(3)))
    assert sum(fired) == 1 and await later.unsaid() == ["p3:0"]
    assert await later.unsaid(older_than_s=60) == []  # the show pass waits for the post that is under way
    await later.said("p3:0")
    assert await later.unsaid() == []
