"""Idempotency records in real Redis: each attempt counted, the hand-over kept, and a record an older Deputy left
with only its intent read as "may have been sent"."""

from __future__ import annotations

from bot.wiring import Runtime
from memory.actions import RedisActionRecords


async def test_the_hand_over_is_kept_until_the_outcome(runtime: Runtime) -> None:
    records = RedisActionRecords(runtime.redis)
    assert await records.begin("p1:0") is None
    cut_short = await records.begin("p1:0")
    assert cut_short is not None and not cut_short.handed_over and cut_short.outcome is None
    await records.handed_over("p1:0")
    lost = await records.begin("p1:0")
    assert lost is not None and lost.handed_over and lost.outcome is None
    assert await runtime.redis.hget("deputy:action:p1:0", "attempts") == "3"
    assert await records.begin("p1:0#2") is None  # the operator's new attempt has a record of its own


async def test_an_intent_left_by_an_older_deputy_counts_as_handed_over(runtime: Runtime) -> None:
    await runtime.redis.hset("deputy:action:p9:0", "intent", "2026-11-03T09:14:00+00:00")
    records = RedisActionRecords(runtime.redis)
    for _ in range(2):  # and still does after the first look counted an attempt
        found = await records.begin("p9:0")
        assert found is not None and found.handed_over
