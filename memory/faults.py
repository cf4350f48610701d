"""Redis faults in words an operator can act on: out of memory, a read-only replica, a disk it can't write,
or simply unreachable — for the 503s, `/readyz`, `deputy doctor` and the chat alert."""

from __future__ import annotations

import logging
import os
import signal

from redis.asyncio import Redis
from redis.exceptions import ConnectionError, ReadOnlyError, RedisError, TimeoutError

from memory import keys

FIXES = {
    "oom": "Redis is out of memory (maxmemory reached): raise maxmemory or free memory",
    "readonly": "Redis is a read-only replica: point REDIS_URL at the primary",
    "disk": "Redis can't write its data to disk (disk full?): free disk space where Redis keeps its AOF",
    "down": "Redis is unreachable",
}


def kind(err: BaseException) -> str:
    """oom, readonly, disk, down or other."""
    text = str(err)
    if isinstance(err, ReadOnlyError) or text.startswith("READONLY") or "read only replica" in text:
        return "readonly"
    if text.startswith("OOM") or "maxmemory" in text:
        return "oom"
    if text.startswith("MISCONF") or "AOF" in text:
        return "disk"
    if isinstance(err, ConnectionError | TimeoutError | OSError):
        return "down"
    return "other"


def describe(err: BaseException) -> str:
    """One line: the fix when it is known, else what Redis said."""
    found = kind(err)
    if found == "down":
        return f"{FIXES['down']} ({err})"
    return FIXES.get(found, f"Redis refused: {err}")


async def probe(redis: Redis) -> str:
    """'' when Redis answers and takes a write; else why not (the fix). A write is the only honest test:
    an out-of-memory Redis still answers PING."""
    try:
        await redis.set(keys.health("probe"), 1, px=60_000)
    except (RedisError, OSError) as err:
        return describe(err)
    return ""


EXIT_AFTER = "DEPUTY_FAULT_EXIT_AFTER"
"""Fault injection for tests and drills: a comma list of points (a ledger event type such as `ProposalStaged`,
or `handed_over`); the process kills itself (SIGKILL, as an operator's kill -9 would) right after each."""


def point(name: str) -> None:
    """Exit here if the drill names this point; a no-op in normal running."""
    if name and name in os.environ.get(EXIT_AFTER, "").split(","):
        logging.getLogger("deputy.faults").warning("fault drill: exiting after %s", name)
        os.kill(os.getpid(), signal.SIGKILL)
