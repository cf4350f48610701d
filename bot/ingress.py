"""Durable before ack: a route stores what a platform sent (memory/inbox.py) and only then answers 2xx; the
work behind it runs here, in the background of the web process, and the stored copy is removed once it is
done. A Redis fault while working waits and tries again; what a crash leaves behind the sweep finds by age
(any web process may, one at a time) and hands to the same handler, whose dedupe lets the same copy through
(`delivery`) and whose handlers are idempotent."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import TYPE_CHECKING

from redis.exceptions import RedisError

from bot.stopping import end
from memory.inbox import Claim, Entry, Kept, RedisInbox, Stored
from orchestrator.errors import DeputyError

if TYPE_CHECKING:
    from aiohttp import web

log = logging.getLogger("deputy.ingress")
Handler = Callable[[Entry], Awaitable[None]]
BACKOFF_S = (0.2, 0.5, 1.0, 2.0, 5.0, 10.0)
SWEEP_EVERY_S = 5.0
LEFT_AFTER_S = 30.0
"""An entry this old is not being worked on by a live process (handling takes milliseconds to seconds)."""
LEASE_S = 120
MAX_TRIES = 5
DRAIN_S = 10.0
AT_ONCE = 4
"""Deliveries worked on at the same time: the rest wait their turn, stored, so the routes that store what platforms
send always find a Redis connection free (a burst behind the acks never makes an ack fail) and an ack's few steps
on the event loop queue behind at most this many deliveries' steps, not every delivery of a burst: on a busy box
the backlog waits, the acks don't (issue 30; it was 32: at a load average of 10 on 2 cores, Telegram's ack p50
was 57-73 ms with 8 and 11-17 ms with 2). Each delivery mostly waits on Redis and the platform's API, so 4 at a
time still work off far more than one operator's chats send."""


class Ingress:
    def __init__(self, inbox: RedisInbox) -> None:
        self.inbox = inbox
        self.handlers: dict[str, Handler] = {}
        self.working: dict[str, asyncio.Task[None]] = {}
        self.turns = asyncio.Semaphore(AT_ONCE)
        self.stopping = False
        self.skipped: list[str] = []

    def handle(self, kind: str, handler: Handler) -> None:
        self.handlers[kind] = handler

    async def accept(
        self, kind: str, fields: dict[str, str], claims: Sequence[Claim] = (), kept: Kept | None = None
    ) -> Stored:
        """Store, then start the work; the caller answers the platform once this returns (refused: a duplicate).
        A Redis fault raises (the route answers 503 and the platform retries). `kept`: a record written with it."""
        stored = await self.inbox.put(kind, fields, claims, kept)
        if stored.entry_id:
            self._start(Entry(stored.entry_id, kind, fields))
        return stored

    def _start(self, entry: Entry) -> None:
        task = asyncio.create_task(self._work(entry), name=f"deputy:ingress:{entry.id}")
        self.working[entry.id] = task
        task.add_done_callback(lambda _: self.working.pop(entry.id, None))

    async def _work(self, entry: Entry) -> None:
        async with self.turns:
            if self.stopping:  # stored and not begun: the next start's sweep hands it over at once
                self.skipped.append(entry.id)
                return
            await self._attempts(entry)

    async def _attempts(self, entry: Entry) -> None:
        for wait in (*BACKOFF_S, None):
            try:
                await self._run(entry)
                await self.inbox.remove(entry.id)
                return
            except (RedisError, OSError) as err:
                if wait is None:
                    log.warning("delivery %s waits for the sweep: %s", entry.id, err)
                    return
                await asyncio.sleep(wait)
            except Exception:
                log.exception("delivery %s (%s) could not be handled; the sweep tries it again", entry.id, entry.kind)
                return

    async def _run(self, entry: Entry) -> None:
        """A refusal (`DeputyError`) is an answer, not a failure: the delivery is done."""
        handler = self.handlers.get(entry.kind)
        if handler is None:
            log.error("no handler for stored %s delivery %s; kept for the sweep", entry.kind, entry.id)
            raise LookupError(entry.kind)
        try:
            await handler(entry)
        except DeputyError as err:
            log.info("delivery %s (%s) refused: %s", entry.id, entry.kind, err)

    async def finished(self, entry_ids: Sequence[str], timeout_s: float) -> None:
        """Until the work on these deliveries has ended (or `timeout_s` passed): for a source whose next steps
        would only compete with that work for the loop and Redis."""
        working = [task for entry_id in entry_ids if (task := self.working.get(entry_id)) is not None]
        if working:
            await asyncio.wait(working, timeout=timeout_s)

    # ---- after a crash --------------------------------------------------------------------------------

    async def sweep(self) -> int:
        """Hand left-behind entries to their handlers (not those this process is working on): what a clean stop
        left at once, what a crash left once it is LEFT_AFTER_S old."""
        started = 0
        left = await self.inbox.left()
        seen = {entry.id for entry in left}
        for entry in left + [e for e in await self.inbox.waiting(LEFT_AFTER_S) if e.id not in seen]:
            if entry.id in self.working or not await self.inbox.lease(entry.id, LEASE_S):
                continue
            if await self.inbox.tried(entry.id) > MAX_TRIES:
                log.error("delivery %s failed %d times; moved to the dead letters", entry.id, MAX_TRIES)
                await self.inbox.bury(entry, f"failed {MAX_TRIES} times")
                continue
            self._start(entry)
            started += 1
        return started

    async def _sweeping(self) -> None:
        while True:
            try:
                await self.sweep()
            except (RedisError, OSError) as err:
                log.info("inbox sweep skipped: %s", err)
            await asyncio.sleep(SWEEP_EVERY_S)

    async def lifespan(self, _: web.Application) -> AsyncIterator[None]:
        """For aiohttp's `cleanup_ctx`: sweep while the app runs; at a clean stop let begun work finish (for up to
        DRAIN_S) and leave what waits its turn in the inbox, however long the backlog."""
        sweeping = asyncio.create_task(self._sweeping(), name="deputy:ingress:sweep")
        yield
        self.stopping = True
        await end(sweeping)
        if self.working:
            await asyncio.wait(set(self.working.values()), timeout=DRAIN_S)
        try:
            await self.inbox.leave(self.skipped)
        except (RedisError, OSError) as err:  # still stored: the sweep takes them once they are old
            log.info("could not mark %d waiting deliveries as left: %s", len(self.skipped), err)
