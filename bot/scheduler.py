"""`deputy scheduler` (and the same loop inside `deputy up`): every few seconds the scheduler pass —
reminders and expiry, the daily digest, liveness alerts — and, in a thread, the maintenance sweep (dead
workers' jobs re-queued, due retries and undo holds released) under the deployment's one lease, which the
workers then leave alone. Safe to run any number of times."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import socket
import threading
from datetime import date
from types import FrameType

from agents import runtime
from agents.maintenance import Maintenance
from bot.wiring import build_runtime, redis_url
from config.settings import Settings
from memory.connections import sync_redis
from orchestrator.schedule import Scheduler

log = logging.getLogger("deputy.scheduler")
TICK_S = 5.0


async def run_loop(scheduler: Scheduler, stop: asyncio.Event) -> None:
    """A failed pass (Redis down, a platform refusing a post) is logged and the next one comes as usual."""
    while not stop.is_set():
        try:
            await scheduler.tick()
        except Exception:
            log.exception("scheduler pass failed; the next one is in %.0f s", TICK_S)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), TICK_S)
    with contextlib.suppress(Exception):  # Redis gone: the lease runs out by itself
        await scheduler.stopped()


async def _serve(settings: Settings, stopping: threading.Event) -> int:
    built = build_runtime(settings)
    stop = asyncio.Event()

    watcher = asyncio.create_task(asyncio.to_thread(stopping.wait))  # the signal handler's event, in the loop
    watcher.add_done_callback(lambda _: stop.set())
    try:
        await run_loop(built.scheduler, stop)
    finally:
        stopping.set()
        await watcher
        await built.close()
    return 0


def run_scheduler(settings: Settings) -> int:
    """Signals are caught first thing, so a stop that arrives while starting is a clean stop too."""
    stopping = threading.Event()

    def stop(signum: int, frame: FrameType | None) -> None:
        stopping.set()

    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, stop)
    sweeper = sweeping(settings, redis_url(settings))
    print(f"Deputy scheduler: digest at {settings.digest_at} {settings.timezone}; Ctrl-C to stop", flush=True)
    sweeper.start()
    try:
        return asyncio.run(_serve(settings, stopping))
    finally:
        sweeper.stop()
        sweeper.join(timeout=5)


def sweeping(settings: Settings, url: str) -> Maintenance:
    """The maintenance sweep in a thread of this process (not yet started). A job it fails for good (a dead
    worker's, out of retries) runs its failure handling here, with this process's runtime."""
    runtime.install(lambda: build_runtime(settings, url))
    return Maintenance(sync_redis(url, retries=2, timeout=5), f"{socket.gethostname()}-{os.getpid()}")


async def post_digest(settings: Settings, *, now: bool, day: date | None) -> str:
    """`deputy digest`: the scheduled one for a date if it was not posted yet (or at once with --now)."""
    built = build_runtime(settings)
    try:
        scheduler = built.scheduler
        today = built.coordinator.views.now().astimezone(scheduler.config.zone).date()
        day = day or today
        if now:
            await scheduler.post(scheduler.config.digest_chat, day)
            return f"Posted the digest for {day} to {scheduler.config.digest_chat.platform}."
        if not await scheduler.post_once(day):
            return f"The digest for {day} was already posted; use --now to post another."
        return f"Posted the digest for {day} to {scheduler.config.digest_chat.platform}."
    finally:
        await built.close()
