"""Ending a background task within a bound. In the core because every layer that runs background tasks (the web
app's loops in bot/, a job's progress ticker and abandoned draft in agents/) needs the same answer to Python
3.11's lost cancel, and it needs nothing but asyncio."""

from __future__ import annotations

import asyncio
import logging
import random

log = logging.getLogger(__name__)

END_S = 10.0
RECANCEL_S = 0.1


async def end(task: asyncio.Task[object], within: float = END_S) -> bool:
    """Cancel a background task and wait at most `within` seconds for it to end; False (logged) if it did not.
    One cancel is not enough: Python 3.11's `asyncio.wait_for`, through which redis-py sends every command,
    loses a cancel that arrives just as the command's send finished, and a loop that carries on after a Redis
    error would then run for good — so the cancel is repeated, at random moments (never in step with a busy
    loop), until the task ends."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while not task.done():
        left = deadline - loop.time()
        if left <= 0:
            log.warning("%s did not stop within %.0f s; left running", task.get_name(), within)
            return False
        task.cancel()
        await asyncio.wait({task}, timeout=min(left, random.uniform(0, RECANCEL_S)))  # not in step with its loop
    if not task.cancelled() and (error := task.exception()) is not None:
        log.warning("%s ended with an error while stopping: %r", task.get_name(), error)
    return True
