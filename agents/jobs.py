"""RQ job entry points. They take ids only, re-read state, and are safe to run more than once: the
coordinator ignores a step that was already done. (Their enqueue → finish latency is recorded by the worker,
in RQ's own transaction that marks a job finished: agents/warm.py.)"""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Awaitable, Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from types import TracebackType
from typing import Any

from config.settings import Settings, load_settings
from config.wiring import Runtime, build_runtime
from orchestrator import commands as cmd
from orchestrator.errors import BudgetExceeded
from orchestrator.model import Reply

log = logging.getLogger("deputy.jobs")


_CHOSEN: list[Settings] = []


def use(chosen: Settings) -> None:
    """The worker's settings (with the Redis it found), so its jobs and forked work horses need no lookup."""
    _CHOSEN[:] = [chosen]


def settings() -> Settings:
    """Read once per worker process (forked horses inherit it)."""
    if not _CHOSEN:
        use(load_settings())
    return _CHOSEN[0]


_LOOP: list[asyncio.AbstractEventLoop] = []
_KEPT: list[Runtime] = []


STOP_SIGNALS = {signal.SIGINT, signal.SIGTERM}
_BLOCK = (signal.SIG_BLOCK, STOP_SIGNALS)


def run_warm(job: Coroutine[Any, Any, Any]) -> Any:
    """Run a job on the warm process's one event loop (made on first use, after the fork). Its threads (the
    SMTP connector's, `asyncio.to_thread`) leave the stop signals to the main thread, which handles them."""
    if not _LOOP:
        loop = asyncio.new_event_loop()
        loop.set_default_executor(ThreadPoolExecutor(initializer=signal.pthread_sigmask, initargs=_BLOCK))
        _LOOP.append(loop)
    return _LOOP[0].run_until_complete(job)


async def _with_runtime(work: Callable[[Runtime], Awaitable[None]]) -> None:
    """On the warm loop one runtime (connections, scripts, memory index) serves every job of the process;
    anywhere else (a failure callback, a test) a runtime is built for the call and closed after it."""
    if _LOOP and asyncio.get_running_loop() is _LOOP[0]:
        if not _KEPT:
            _KEPT.append(build_runtime(settings()))
        _KEPT[0].memory.new_request()
        await work(_KEPT[0])
        return
    runtime = build_runtime(settings())
    try:
        await work(runtime)
    finally:
        await runtime.close()


async def run_task(task_id: str) -> None:
    async def work(rt: Runtime) -> None:
        task = await rt.coordinator.handle(cmd.StartTask(task_id))
        if task is None:
            return
        try:
            draft = await rt.drafter.draft(task)
        except BudgetExceeded as over:
            pause = cmd.PauseTask(task_id=task_id, spent_usd=over.spent, cap_usd=over.cap, date=over.date)
            await rt.coordinator.handle(pause)
            return
        await rt.coordinator.handle(cmd.CompleteDraft(task_id, draft))

    await _with_runtime(work)


async def apply_proposal(proposal_id: str) -> None:
    await _with_runtime(lambda rt: rt.coordinator.handle(cmd.ApplyProposal(proposal_id)))


async def revise_proposal(proposal_id: str) -> None:
    """The revision the operator asked for (the ask is on the proposal): the agent drafts it again with the
    feedback, and the core stages it as the next version or says why not. A run after it was answered does nothing."""

    async def work(rt: Runtime) -> None:
        proposal = await rt.store.get_proposal(proposal_id)
        task = await rt.store.get_task(proposal.task_id) if proposal else None
        if proposal is None or task is None or proposal.revising is None:
            return
        ask = proposal.revising
        try:
            draft = await rt.drafter.revise(task, proposal, ask.feedback)
        except BudgetExceeded as over:
            draft = Reply(f"{over}; /budget shows today's spend", ok=False)
        await rt.coordinator.handle(cmd.StageRevision(proposal_id, draft, ask.event_id))

    await _with_runtime(work)


def on_failure(
    job: Any, connection: Any, kind: type[BaseException], value: BaseException, traceback: TracebackType | None
) -> None:
    """RQ calls this after every failed attempt; only the last one (no retries left) fails the task."""
    if job.retries_left:
        log.warning("job %s failed (%s: %s); %s retries left", job.id, kind.__name__, value, job.retries_left)
        return
    reason = f"{kind.__name__}: {value}" if str(value) else kind.__name__
    asyncio.run(_fail(job.func_name, job.args[0], reason))


async def _fail(func_name: str, record_id: str, reason: str) -> None:
    async def work(rt: Runtime) -> None:
        task_id = record_id
        if func_name.endswith("revise_proposal"):  # a revision that never came: the card stays, the operator hears
            await rt.coordinator.handle(cmd.StageRevision(record_id, Reply(f"it failed ({reason})", ok=False)))
            return
        if func_name.endswith("apply_proposal"):
            proposal = await rt.store.get_proposal(record_id)
            if proposal is None:
                return
            task_id = proposal.task_id
        await rt.coordinator.handle(cmd.FailTask(task_id, reason))

    await _with_runtime(work)
