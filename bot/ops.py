"""`deputy ledger` and `deputy replay`: reading the audit trail and checking state against it."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import os
import re
import sys
from collections.abc import AsyncIterator, Iterable, Iterator
from datetime import UTC, datetime, timedelta

from redis.asyncio import Redis

from bot.wiring import build_runtime
from config.settings import Settings
from memory import codec, keys
from memory.clients import RedisRecordBook
from memory.codec import statuses
from memory.ledger import RedisLedger
from memory.store import record_data
from orchestrator.errors import ConfigError
from orchestrator.records import KINDS
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
        try:
            start = now - timedelta(**{_UNITS[match[2]]: int(match[1])})
        except OverflowError:
            raise ConfigError(f"--since {since!r} reaches back before the year 1") from None
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
    actor = fit(fields["actor"] or "-", ACTOR_WIDTH)
    return f"{at}  {fields['type']:<17} {ids:<20} {actor:<{ACTOR_WIDTH}} {cost}  {fields['summary']}"


ACTOR_WIDTH = 24
"""`policy:notes-always`, `console:sam`, `slack:U0123ABCD` fit; a longer actor is cut with …, so columns align."""


def fit(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


async def run_ledger(settings: Settings, *, follow: bool, as_json: bool, since: str | None) -> int:
    runtime = build_runtime(settings)
    try:
        await print_ledger(runtime.ledger, after=since_id(since), follow=follow, as_json=as_json)
    except BrokenPipeError:  # the reader went away (`deputy ledger | head`): nothing more to say
        quiet_stdout()
    finally:
        await runtime.close()
    return 0


async def print_ledger(ledger: RedisLedger, *, after: str, follow: bool, as_json: bool) -> None:
    async for page in ledger.pages(after=after):
        emit(line(entry_id, fields, as_json) for entry_id, fields in page)
        after = page[-1][0]
    if follow:
        async for entry_id, fields in ledger.follow(after=after if after != "0" else "0-0"):
            emit([line(entry_id, fields, as_json)])


def emit(lines: Iterable[str]) -> None:
    """One write and one flush per batch: a flush per line costs a system call each on a pipe or a terminal."""
    text = "".join(f"{one}\n" for one in lines)
    if text:
        sys.stdout.write(text)
        sys.stdout.flush()


def quiet_stdout() -> None:
    """After a broken pipe Python flushes stdout once more at exit and prints that error; pointing the file
    descriptor at /dev/null lets that last flush succeed silently."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)


async def stored_state(settings: Settings) -> tuple[Rebuilt, Rebuilt]:
    runtime = build_runtime(settings)
    try:
        with without_cycle_collection():
            ledger, stored = await asyncio.gather(ledger_state(runtime.ledger), records_state(runtime.redis))
        return ledger, stored  # read side by side: Redis answers one while this process decodes the other
    finally:
        await runtime.close()


@contextlib.contextmanager
def without_cycle_collection() -> Iterator[None]:
    """Replay builds maps of every task, proposal and action (hundreds of thousands of strings) while it decodes
    millions of short-lived events and records, none of them in a reference cycle: each full collection on the way
    walked the growing maps again, 15% of replay's time at 50k tasks. Reference counting still frees all it drops."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


async def ledger_state(ledger: RedisLedger) -> Rebuilt:
    """The fold a batch at a time, merged in order: a fold only ever sets an id's latest status, so this equals
    one fold over the whole ledger without holding every event in memory at once."""
    state = Rebuilt()
    async for batch in ledger.scan():
        fold((event for _entry_id, event in batch), state)
    return state


async def records_state(redis: Redis) -> Rebuilt:
    """The statuses the stores hold, from every task and proposal record."""
    stored = Rebuilt()
    for kind in ("task", "proposal"):
        async for page in record_pages(redis, kind):
            for raw in page:
                if raw:
                    _note(stored, kind, *statuses(raw))
    book = RedisRecordBook(redis)
    for kind in KINDS:
        for entity in await book.many(await book.ids(kind)):
            stored.records[entity.id] = entity.fields
    return stored


async def record_pages(redis: Redis, kind: str) -> AsyncIterator[list[str | None]]:
    """The `data` of every record of a kind: one SCAN step, then the records it found (`record_data`)."""
    cursor = 0
    while True:
        cursor, found = await redis.scan(cursor, match=keys.record(kind, "*"), count=SCAN_COUNT)
        if found:
            yield await record_data(redis, found)
        if not cursor:
            return


def _note(state: Rebuilt, kind: str, record_id: str, status: str, actions: list[str]) -> None:
    if kind == "task":
        state.tasks[record_id] = status
        return
    state.proposals[record_id] = status
    for index, action in enumerate(actions):
        state.actions[f"{record_id}:{index}"] = action


async def run_replay(settings: Settings) -> int:
    rebuilt, stored = await stored_state(settings)
    diffs = differences(rebuilt, stored)
    try:
        emit(verdict(rebuilt, diffs))
    except BrokenPipeError:
        quiet_stdout()
    return 1 if diffs else 0


def verdict(rebuilt: Rebuilt, diffs: list[str]) -> list[str]:
    counts = f"{len(rebuilt.tasks)} tasks, {len(rebuilt.proposals)} proposals, {len(rebuilt.actions)} actions"
    counts += f", {len(rebuilt.records)} records" if rebuilt.records else ""
    if diffs:
        return [*diffs, f"{len(diffs)} difference(s) between the ledger and the stores ({counts} in the ledger)."]
    return [f"The ledger and the stores agree: {counts}."]
