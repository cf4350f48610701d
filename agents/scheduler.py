"""`deputy scheduler`: the maintenance sweep on its own (re-queue a dead worker's jobs, promote due retries
and undo-window holds, give every stuck task its job), for deployments whose workers come and go. Safe to
run any number of times: one sweep at a time holds a Redis lock. Digest and reminders join it later."""

from __future__ import annotations

import signal
import threading
from types import FrameType

from redis import Redis

from agents.maintenance import Maintenance
from config.settings import Settings
from config.wiring import redis_url


def run_scheduler(settings: Settings) -> int:
    sweeper = Maintenance(Redis.from_url(redis_url(settings)), worker_name=None)
    stopped = threading.Event()

    def stop(signum: int, frame: FrameType | None) -> None:
        stopped.set()

    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, stop)
    print("Deputy scheduler: sweeping every second (Ctrl-C to stop)", flush=True)
    sweeper.start()
    stopped.wait()
    sweeper.stop()
    sweeper.join(timeout=5)
    return 0
