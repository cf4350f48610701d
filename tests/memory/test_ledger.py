"""Reading the ledger against a real redis-server: batches in order, `after=`, exact events of every type."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from bot.wiring import Runtime
from memory import codec, keys
from memory.streams import range_after
from orchestrator.events import EVENT_TYPES, Event, TaskSubmitted

AT = datetime(2026, 11, 3, 9, 14, 5, 123456, tzinfo=UTC)
DETAIL: dict[str, Any] = {
    "kind": "email",
    "actions": ["email", "webhook"],
    "nested": {"n": 3, "x": 0.25, "ok": True, "none": None, "list": [1, "two", {"three": 3.0}]},
    "text": 'quotes " and \\ backslash, a\nnewline, a\ttab, unicode ✓ é 漢字',
}


def numbered(n: int) -> list[Event]:
    return [TaskSubmitted(at=AT + timedelta(milliseconds=i), task_id=f"t{i}", summary=str(i)) for i in range(n)]


async def append(runtime: Runtime, events: list[Event], chunk: int = 1000) -> None:
    for start in range(0, len(events), chunk):
        await runtime.store.commit([], events[start : start + chunk])


async def bare_xrange(runtime: Runtime, key: str) -> list[tuple[str, dict[str, str]]]:
    """The stream as a plain XRANGE returns it (the runtime's client decodes), to compare with."""
    rows: Any = await runtime.redis.xrange(key)
    return [(entry_id, fields) for entry_id, fields in rows]


def everything(cls: type[Event], at: datetime) -> Event:
    """An event of `cls` with every field set away from its default."""
    return cls(
        at=at,
        task_id="t2x7kq9m",
        proposal_id="t2x7kq9m",
        actor="slack:U0123ABC",
        cost_usd=0.000123456789,
        summary="Email sam@example.com: “Invoice 42”\nsecond line",
        task_status="applying",
        proposal_status="approved",
        action_index=2,
        action_status="applied",
        detail=DETAIL,
    )


async def test_scan_returns_every_event_once_in_order_across_batches(runtime: Runtime) -> None:
    written = numbered(12_345)
    await append(runtime, written)
    batches = [batch async for batch in runtime.ledger.scan(batch=5000)]
    assert [len(b) for b in batches] == [5000, 5000, 2345]
    ids = [entry_id for batch in batches for entry_id, _ in batch]
    assert ids == sorted(ids, key=lambda i: tuple(map(int, i.split("-")))) and len(set(ids)) == len(ids)
    assert [event for batch in batches for _, event in batch] == written
    assert [e async for e in runtime.ledger.all_events()] == written


async def test_scan_after_starts_strictly_after_that_id(runtime: Runtime) -> None:
    written = numbered(2500)
    await append(runtime, written)
    ids = [entry_id async for batch in runtime.ledger.scan() for entry_id, _ in batch]
    later = [event async for batch in runtime.ledger.scan(after=ids[1234], batch=700) for _, event in batch]
    assert later == written[1235:]
    assert [b async for b in runtime.ledger.scan(after=ids[-1])] == []
    assert [e for _, e in await runtime.ledger.read(after=ids[9], count=3)] == written[10:13]


async def test_every_event_type_round_trips_exactly(runtime: Runtime) -> None:
    india = timezone(timedelta(hours=5, minutes=30))
    written = [everything(cls, at) for cls in EVENT_TYPES.values() for at in (AT, AT.astimezone(india))]
    written += [cls(at=AT, task_id="t1") for cls in EVENT_TYPES.values()]  # and with every default
    await append(runtime, written)
    [read] = [b async for b in runtime.ledger.scan()]
    pydantic_path = [codec.load(EVENT_TYPES[f["type"]], f["data"]) for _, f in await runtime.ledger.entries()]
    assert [e for _, e in read] == written == pydantic_path
    assert [type(e) for _, e in read] == [type(e) for e in written]
    assert [e.at.utcoffset() for _, e in read] == [e.at.utcoffset() for e in written]


async def test_an_entry_with_a_raw_newline_is_still_read(runtime: Runtime) -> None:
    """JSON may hold a newline between tokens; the one-line-per-entry read notices and reads the plain way."""
    first, odd, last = numbered(3)
    await append(runtime, [first])
    fields: dict[Any, Any] = codec.event_fields(odd)
    await runtime.redis.xadd(keys.LEDGER, {**fields, "data": fields["data"].replace(",", ",\n")})
    await append(runtime, [last])
    assert [e for _, e in await runtime.ledger.read()] == [first, odd, last]


async def test_entries_keep_every_field_exactly(runtime: Runtime) -> None:
    odd: dict[Any, Any] = {"empty": "", "number": "007", "json": '{"a": [1]}', "text": DETAIL["text"], "s": "a/b\\c"}
    for n in range(3):
        await runtime.redis.xadd("deputy:test:stream", {**odd, "n": str(n)})
    plain = await bare_xrange(runtime, "deputy:test:stream")
    assert await range_after(runtime.redis, "deputy:test:stream", "0", count=10) == plain
    assert await range_after(runtime.redis, "deputy:test:stream", plain[0][0], count=1) == [plain[1]]
    assert await range_after(runtime.redis, "deputy:nothing", "0", count=10) == []
    await append(runtime, numbered(3))
    assert [f for _, f in await runtime.ledger.entries()] == [codec.event_fields(e) for e in numbered(3)]


async def test_an_entry_read_over_resp3_or_with_its_fields_in_another_order_is_the_same_event(
    runtime: Runtime,
) -> None:
    """The walk takes XRANGE's reply as the server sent it, a flat list of fields under either protocol: `type`
    first and `data` last, as the ledger writes them, or looked up by name otherwise."""
    from redis.asyncio import Redis

    from memory.ledger import RedisLedger

    [written] = numbered(1)
    fields = codec.event_fields(written)
    await runtime.redis.xadd(keys.LEDGER, dict(reversed(fields.items())))  # data first, type last
    await runtime.store.commit([], [written])
    assert [e for _, e in await runtime.ledger.read()] == [written, written]
    resp3 = Redis.from_url(runtime.settings.redis_url or "", protocol=3)
    try:
        assert [e for _, e in await RedisLedger(resp3).read()] == [written, written]
    finally:
        await resp3.aclose()
