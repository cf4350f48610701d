"""A model call's spend and its `ModelCalled` ledger line, written together: one transaction, one round trip,
one fsync (the LLM port calls this after every call). While a draft holds the accounting (`hold`), a free
call's lines wait and go out in one transaction with the draft's other writes (its working-set turns)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from contextvars import ContextVar
from typing import Any

from redis.asyncio import Redis

from memory.spend import RedisSpend, Reservation, Usage
from memory.store import RedisStore
from orchestrator.events import Event

Writer = Callable[[Any], Awaitable[Any]]
"""Queues commands on a transaction (a redis.asyncio pipeline)."""


class ModelAccounting:
    def __init__(self, redis: Redis, spend: RedisSpend, store: RedisStore) -> None:
        self.redis, self.spend, self.store = redis, spend, store
        self._held: ContextVar[list[Writer] | None] = ContextVar(f"held-{id(self)}", default=None)

    async def __call__(self, date: str, reservation: Reservation | None, usage: Usage, event: Event) -> None:
        """A call that cost nothing and reserved nothing may wait for the holder's transaction: the budget
        doesn't change. A priced call settles at once, so a crash can't leave its spend uncounted."""
        held = self._held.get()
        if held is not None and usage.usd == 0 and not (reservation and reservation.member):
            held.append(lambda pipe: self._queue(pipe, date, reservation, usage, event))
            return
        await write_together(self.redis, [lambda pipe: self._queue(pipe, date, reservation, usage, event)])

    async def _queue(self, pipe: Any, date: str, reservation: Reservation | None, usage: Usage, event: Event) -> None:
        await self.spend.settle_on(pipe, date, reservation, usage)
        await self.store.append_on(pipe, [event])

    @asynccontextmanager
    async def hold(self) -> AsyncIterator[list[Writer]]:
        """Free calls' accounting waits until the block ends, then goes out in one transaction with whatever
        the holder added to the list; on an error it still goes out (without the holder's part, if none)."""
        held: list[Writer] = []
        token = self._held.set(held)
        try:
            yield held
        finally:
            self._held.reset(token)
            if held:
                await write_together(self.redis, held)


async def write_together(redis: Redis, writers: list[Writer]) -> None:
    """One MULTI/EXEC round trip. Scripts go as EVAL (Redis caches them by their hash): no SCRIPT EXISTS
    round trip first, and nothing to reload when a restarted Redis has forgotten them."""
    pipe = redis.pipeline(transaction=True)
    for write in writers:
        await write(pipe)
    as_eval(pipe)
    await pipe.execute()


def as_eval(pipe: Any) -> None:
    """Turn the pipeline's queued EVALSHAs into EVALs of the same scripts."""
    bodies = {script.sha: script.script for script in pipe.scripts}
    for i, (args, options) in enumerate(pipe.command_stack):
        if args[0] == "EVALSHA" and args[1] in bodies:
            pipe.command_stack[i] = (("EVAL", bodies[args[1]], *args[2:]), options)
    pipe.scripts.clear()
