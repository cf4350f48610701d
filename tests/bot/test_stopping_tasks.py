"""`bot.stopping.end`: a background task stops within its bound even when a cancel is lost (Python 3.11's
`asyncio.wait_for`, which redis-py sends every command through, returns the result instead of raising when
the cancel comes just as the call finished), and a task that will not stop is left, not waited on for good."""

from __future__ import annotations

import asyncio
import contextlib

from bot.stopping import end


async def _send() -> None:
    """Like redis-py's send of a command: done in one step."""


async def _polling() -> None:
    """A source's loop that carries on after an error, each pass through `wait_for` as a Redis call is."""
    while True:
        with contextlib.suppress(OSError):
            await asyncio.wait_for(_send(), 5)
        await asyncio.sleep(0)


async def test_a_loop_whose_cancel_is_lost_still_ends() -> None:
    for offset in range(20):
        task = asyncio.create_task(_polling())
        for _ in range(offset % 5 + 1):
            await asyncio.sleep(0)
        assert await end(task, within=5) and task.done()


async def test_a_task_that_will_not_stop_is_left_after_the_bound() -> None:
    stubborn = True

    async def refusing() -> None:
        while stubborn:
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.sleep(10)

    task = asyncio.create_task(refusing())
    await asyncio.sleep(0)
    started = asyncio.get_running_loop().time()
    assert not await end(task, within=0.3)
    assert asyncio.get_running_loop().time() - started < 2 and not task.done()
    stubborn = False
    assert await end(task, within=5)
