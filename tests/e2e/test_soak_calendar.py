"""Soak: bookings through real workers while workers — or their warm job processes, mid-job — are killed with -9,
against a real CalDAV server whose answers come back slowly (a delaying proxy in front of Radicale), so kills land
after a booking's request has reached the calendar and before its answer is back. Whatever the timing, every
approved booking ends as exactly one event: a retry after a cut-off create gets 412 and finds the event by its UID.
Behind the `soak` marker, like tests/e2e/test_soak.py."""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import signal
from collections import Counter
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit
from zoneinfo import ZoneInfo

import pytest

from bot.wiring import Runtime
from memory import keys
from memory.embedded import free_port
from tests.conftest import Workers, deputy, eventually
from tests.e2e.helpers import send
from tests.e2e.procs import children
from tests.e2e.test_soak import SLOW_DRAFT_MS, _running_on, approve_as_they_come, unsettled
from tests.radicale import Calendar

BOOKINGS = 12
ZONE = "Europe/Warsaw"
ANSWER_DELAY_S = 0.4


class SlowAnswers:
    """A TCP proxy that holds every answer from the calendar for `ANSWER_DELAY_S` before passing it on."""

    def __init__(self, upstream: tuple[str, int]) -> None:
        self.upstream, self.port = upstream, free_port()
        self.server: asyncio.Server | None = None

    async def start(self) -> None:
        self.server = await asyncio.start_server(self._pipe, "127.0.0.1", self.port)

    async def stop(self) -> None:
        if self.server is not None:
            self.server.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.server.wait_closed(), 5)

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """Only the answers to writes are held (a draft's reads stay quick, so drafts still finish)."""
        up_reader, up_writer = await asyncio.open_connection(*self.upstream)
        writes: list[bool] = []
        await asyncio.gather(_copy(reader, up_writer, writes), _copy(up_reader, writer, writes, ANSWER_DELAY_S))


async def _copy(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, writes: list[bool], delay_s: float = 0.0
) -> None:
    with contextlib.suppress(ConnectionError, OSError):
        while chunk := await reader.read(65536):
            if not delay_s and chunk.startswith((b"PUT ", b"DELETE ")):
                writes.append(True)
            if delay_s and writes:
                await asyncio.sleep(delay_s)
            writer.write(chunk)
            await writer.drain()
    with contextlib.suppress(ConnectionError, OSError):
        writer.close()


@pytest.fixture
async def slow(calendar: Calendar) -> AsyncIterator[str]:
    """The calendar's URL, through the slow proxy."""
    parts = urlsplit(calendar.url)
    proxy = SlowAnswers((parts.hostname or "127.0.0.1", parts.port or 80))
    await proxy.start()
    login = parts.netloc.rpartition("@")[0]
    yield urlunsplit(parts._replace(netloc=f"{login}@127.0.0.1:{proxy.port}"))
    await proxy.stop()


@pytest.fixture
def env(env: dict[str, str], slow: str) -> dict[str, str]:
    return {**env, "DEPUTY_CALDAV_URL": slow, "DEPUTY_TIMEZONE": ZONE, "DEPUTY_JOB_RETRY_S": "1,1,2,2,3"}


async def kill_on(runtime: Runtime, workers: Workers, stop: asyncio.Event, kills: dict[str, int]) -> None:
    """tests/e2e/test_soak.py's chaos, gentler (every 1–2.5 s): a booking's apply is a slow write here, and a job
    killed six times running is failed by design — the point is kills inside applies, not starving them."""
    rng = random.Random(11)
    while not stop.is_set():
        await asyncio.sleep(rng.uniform(1.0, 2.5))
        working = [p for p in workers.processes if p.poll() is None]
        working = [p for p in working if await runtime.redis.exists(keys.worker_alive(_running_on(p)))]
        if not working:
            continue
        victim = rng.choice(working)
        job_processes = children(victim.pid)
        with contextlib.suppress(ProcessLookupError):
            if job_processes and rng.random() < 0.5:
                os.kill(job_processes[0], signal.SIGKILL)
                kills["job process"] += 1
                continue
            workers.kill9(victim)
            kills["worker"] += 1
        workers.start(DEPUTY_OFFLINE_LATENCY_MS=SLOW_DRAFT_MS)


async def settled(runtime: Runtime) -> bool:
    states = ("done", "failed", "awaiting_operator")
    return sum([len(await runtime.store.ids("task", s)) for s in states]) == BOOKINGS


@pytest.mark.soak
async def test_every_booking_is_one_event_while_workers_are_killed(
    runtime: Runtime, workers: Workers, calendar: Calendar, env: dict[str, str], tmp_path: Path
) -> None:
    for _ in range(2):
        workers.start(DEPUTY_OFFLINE_LATENCY_MS=SLOW_DRAFT_MS)
    stop, kills = asyncio.Event(), {"worker": 0, "job process": 0}
    background = [
        asyncio.create_task(kill_on(runtime, workers, stop, kills)),
        asyncio.create_task(approve_as_they_come(runtime, stop)),
    ]
    day = datetime.now(ZoneInfo(ZONE)).date() + timedelta(days=2)
    for i in range(BOOKINGS):
        at = f"{8 + i // 2}:{30 * (i % 2):02d}"
        await send(runtime, f"book a call with client{i}@example.com on {day:%d %b} at {at}", f"soak-book-{i}")
    try:
        await eventually(lambda: settled(runtime), 300, "every booking to settle through the chaos")
    except AssertionError:
        raise AssertionError(f"not settled after 300 s: {await unsettled(runtime)}") from None
    stop.set()
    await asyncio.gather(*background)

    start = datetime.combine(day, datetime.min.time(), ZoneInfo(ZONE))
    events = await calendar.events(start, start + timedelta(days=1))
    booked = Counter(a for e in events for a in e.attendees)
    assert len(await runtime.store.ids("task", "done")) == BOOKINGS, await unsettled(runtime)
    assert booked == Counter({f"client{i}@example.com": 1 for i in range(BOOKINGS)}), booked
    found = 0
    for pid in await runtime.store.ids("proposal", "approved"):
        proposal = await runtime.store.get_proposal(pid)
        found += bool(proposal and "found on the calendar by its UID" in proposal.actions[0].outcome)
    print(f"soak: {BOOKINGS} bookings, kills {kills}, {len(events)} events, {found} found by UID after a cut-off")
    assert sum(kills.values()) >= 3, "the chaos loop hardly killed a working worker: the soak proved little"
    assert found >= 1, "no kill landed between a create reaching the calendar and its answer: that path went untested"
    replay = deputy("replay", env=env, cwd=tmp_path)
    assert replay.returncode == 0, replay.stdout
