"""`deputy ledger` and `deputy replay`: reading the audit trail and checking state against it."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

from redis.asyncio import Redis

from config.settings import Settings
from config.wiring import build_runtime
from memory import codec, keys
from memory.codec import load_record
from memory.ledger import RedisLedger
from orchestrator.errors import ConfigError
from orchestrator.model import Proposal, Task
from orchestrator.replay import Rebuilt, differences, fold

_AGE = re.compile(r"^(\d+)([smhd])$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}
SCAN_COUNT = 5000
"""Keys per SCAN step when finding the stored records; the records of each step come back in one pipeline."""


def since_id(since: str | None, now: datetime | None = None) -> str:
    """A stream id just before `since` (an ISO time or an age such as 2h); Redis stream ids are ms times."""
    if not since:
        return "0"
    now = now or datetime.now(UTC)
    if match := _AGE.match(since.strip()):
        start = now - timedelta(**{_UNITS[match[2]]: int(match[1])})
    else:
        try:
            start = datetime.fromisoformat(since.strip())
        except ValueError:
            raise ConfigError(
                f"--since {since!r}: use an ISO time like 2026-11-03T09:00 or an age like 30m, 2h, 7d"
            ) from None
        start = start if start.tzinfo else start.replace(tzinfo=UTC)
    return f"{max(int(start.timestamp() * 1000) - 1, 0)}-0"


def line(entry_id: str, fields: dict[str, str], as_json: bool) -> str:
    if as_json:
        return codec.event_json(entry_id, fields)
    at = fields["at"][:19].replace("T", " ")
    ids = " ".join(x for x in (fields["task"], fields["proposal"]) if x)
    cost = f"${float(fields['cost_usd']):.4f}"
    return f"{at}  {fields['type']:<17} {ids:<20} {fields['actor'] or '-':<18} {cost}  {fields['summary']}"


async def run_ledger(settings: Settings, *, follow: bool, as_json: bool, since: str | None) -> int:
    runtime = build_runtime(settings)
    after = since_id(since)
    try:
        while batch := await runtime.ledger.entries(after=after):
            for entry_id, fields in batch:
                print(line(entry_id, fields, as_json), flush=True)
            after = batch[-1][0]
        if follow:
            async for entry_id, fields in runtime.ledger.follow(after=after if after != "0" else "0-0"):
                print(line(entry_id, fields, as_json), flush=True)
    finally:
        await runtime.close()
    return 0


async def stored_state(settings: Settings) -> tuple[Rebuilt, Rebuilt]:
    runtime = build_runtime(settings)
    try:
        return await ledger_state(runtime.ledger), await records_state(runtime.redis)
    finally:
        await runtime.close()


async def ledger_state(ledger: RedisLedger) -> Rebuilt:
    """The fold a batch at a time, merged in order: a fold only ever sets an id's latest status, so this equals
    one fold over the whole ledger without holding every event in memory at once."""
    state = Rebuilt()
    async for batch in ledger.scan():
        part = fold(event for _entry_id, event in batch)
        state.tasks.update(part.tasks)
        state.proposals.update(part.proposals)
        state.actions.update(part.actions)
    return state


async def records_state(redis: Redis) -> Rebuilt:
    """The statuses the stores hold, from every task and proposal record."""
    stored = Rebuilt()
    for kind in ("task", "proposal"):
        async for page in record_pages(redis, kind):
            for raw in page:
                if raw:
                    _note(stored, load_record(kind, raw))
    return stored


async def record_pages(redis: Redis, kind: str) -> AsyncIterator[list[str | None]]:
    """The `data` of every record of a kind: one SCAN step, then one pipelined HGET per key it found."""
    cursor = 0
    while True:
        cursor, found = await redis.scan(cursor, match=keys.record(kind, "*"), count=SCAN_COUNT)
        if found:
            yield await hget_each(redis, found, "data")
        if not cursor:
            return


async def hget_each(redis: Redis, names: list[bytes | str], field: str) -> list[str | None]:
    async with redis.pipeline(transaction=False) as pipe:
        for name in names:
            pipe.hget(name, field)
        values: list[str | None] = await pipe.execute()
    return values


def _note(state: Rebuilt, record: Task | Proposal) -> None:
    if isinstance(record, Task):
        state.tasks[record.id] = record.status.value
        return
    state.proposals[record.id] = record.status.value
    for index, action in enumerate(record.actions):
        state.actions[f"{record.id}:{index}"] = action.status.value


async def run_replay(settings: Settings) -> int:
    rebuilt, stored = await stored_state(settings)
    diffs = differences(rebuilt, stored)
    for diff in diffs:
        print(diff)
    counts = f"{len(rebuilt.tasks)} tasks, {len(rebuilt.proposals)} proposals, {len(rebuilt.actions)} actions"
    if diffs:
        print(f"{len(diffs)} difference(s) between the ledger and the stores ({counts} in the ledger).")
        return 1
    print(f"The ledger and the stores agree: {counts}.")
    return 0
