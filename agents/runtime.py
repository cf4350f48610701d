"""What a job runs with, handed down by the process that runs jobs. `deputy worker`, `deputy scheduler` and
`deputy up` (bot/) install a factory before they work; agents/ never builds a runtime itself, so it never
imports the composition root above it. The warm job process keeps one runtime, built on its one event loop,
for all its jobs."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Awaitable, Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, Protocol

from orchestrator.errors import ConfigError

if TYPE_CHECKING:
    from memory.records import RedisMemory
    from memory.store import RedisStore
    from orchestrator.coordinator import Coordinator
    from orchestrator.ports import Drafter


class JobRuntime(Protocol):
    """The part of the process's runtime (bot/wiring.py `Runtime`) that jobs use."""

    store: RedisStore
    coordinator: Coordinator
    drafter: Drafter
    memory: RedisMemory

    async def close(self) -> None: ...


Factory = Callable[[], JobRuntime]
_FACTORY: list[Factory] = []
_LOOP: list[asyncio.AbstractEventLoop] = []
_KEPT: list[JobRuntime] = []
_ON_START: list[Callable[[], None]] = []

STOP_SIGNALS = {signal.SIGINT, signal.SIGTERM}
_BLOCK = (signal.SIG_BLOCK, STOP_SIGNALS)


def install(factory: Factory, *, on_start: Callable[[], None] | None = None) -> None:
    """The process's way to build a runtime; forked job processes inherit it. `on_start` is what a job process
    does once, before its first job, that its parent must not (litellm: only the process that calls models pays
    its seconds and megabytes, and the parent's `/readyz` beat does not wait for them)."""
    _FACTORY[:] = [factory]
    _ON_START[:] = [on_start] if on_start else []
    _KEPT.clear()


def started() -> None:
    """A job process is starting: run what `install` left for it."""
    for step in _ON_START:
        step()


def build() -> JobRuntime:
    if not _FACTORY:
        raise ConfigError("no job runtime installed: the process that runs jobs installs one (bot/worker.py)")
    return _FACTORY[0]()


def run_warm(job: Coroutine[Any, Any, Any]) -> Any:
    """Run a job on the warm process's one event loop (made on first use, after the fork). Its threads (the
    SMTP connector's, `asyncio.to_thread`) leave the stop signals to the main thread, which handles them."""
    if not _LOOP:
        loop = asyncio.new_event_loop()
        loop.set_default_executor(ThreadPoolExecutor(initializer=signal.pthread_sigmask, initargs=_BLOCK))
        _LOOP.append(loop)
    return _LOOP[0].run_until_complete(job)


async def with_runtime(work: Callable[[JobRuntime], Awaitable[None]]) -> None:
    """On the warm loop one runtime (connections, scripts, memory index) serves every job of the process;
    anywhere else (a failure callback, a test) a runtime is built for the call and closed after it."""
    if _LOOP and asyncio.get_running_loop() is _LOOP[0]:
        if not _KEPT:
            _KEPT.append(build())
        _KEPT[0].memory.new_request()
        await work(_KEPT[0])
        return
    runtime = build()
    try:
        await work(runtime)
    finally:
        await runtime.close()
