"""RQ job entry points. They take ids only, re-read state, and are safe to run more than once: the
coordinator ignores a step that was already done."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from types import TracebackType
from typing import Any

from rq import get_current_job

from config.settings import Settings, load_settings
from config.wiring import Runtime, build_runtime
from memory.metrics import observe_job
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


async def _with_runtime(work: Callable[[Runtime], Awaitable[None]]) -> None:
    runtime = build_runtime(settings())
    try:
        await work(runtime)
    finally:
        await runtime.close()


def _observe(job_kind: str) -> None:
    """Enqueue → finish latency, for the `deputy_job_seconds` histogram."""
    job = get_current_job()
    if job is None or job.enqueued_at is None:
        return
    enqueued = job.enqueued_at if job.enqueued_at.tzinfo else job.enqueued_at.replace(tzinfo=UTC)
    observe_job(job.connection, job_kind, (datetime.now(UTC) - enqueued).total_seconds())


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
    _observe("run")


async def apply_proposal(proposal_id: str) -> None:
    await _with_runtime(lambda rt: rt.coordinator.handle(cmd.ApplyProposal(proposal_id)))
    _observe("apply")


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
