"""RQ job entry points and their one table. They take ids only, re-read state, and are safe to run more than
once: the coordinator ignores a step that was already done. Each is a plain function (what RQ documents) that
runs its coroutine on the process's one warm event loop, with the runtime its process installed
(agents/runtime.py). Their dotted names (`agents.jobs.run_task`, …) are what queued jobs in Redis carry: they
stay. (Their enqueue → finish latency is recorded by the worker, in RQ's own transaction that marks a job
finished: agents/warm.py.)"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from types import TracebackType
from typing import Any

from rq import get_current_job
from rq.timeouts import JobTimeoutException

from agents import progress
from agents.progress import Progress
from agents.runtime import JobRuntime, run_warm, with_runtime
from orchestrator import commands as cmd
from orchestrator.ending import end
from orchestrator.errors import BudgetExceeded, ModelPaused
from orchestrator.handlers.revisions import revising_head
from orchestrator.model import Draft, Proposal, Reply, Revising, Task, TaskStatus
from orchestrator.outbound import Kind, Outbound

log = logging.getLogger("deputy.jobs")
STOP_CHECK_S = 1.0


def run_task(task_id: str) -> None:
    run_warm(_run_task(task_id))


def apply_proposal(proposal_id: str) -> None:
    run_warm(with_runtime(lambda rt: rt.coordinator.handle(cmd.ApplyProposal(proposal_id))))


def revise_proposal(proposal_id: str) -> None:
    run_warm(_revise_proposal(proposal_id))


async def _run_task(task_id: str) -> None:
    async def work(rt: JobRuntime) -> None:
        task = await rt.coordinator.handle(cmd.StartTask(task_id))
        if task is None:
            return
        try:
            reporter = Progress(partial(_show, rt, task), record=partial(rt.store.set_step, task_id))
            async with progress.reporting(reporter):
                draft = await _unless_stopped(rt, task_id, rt.drafter.draft(task))
        except BudgetExceeded as over:
            pause = cmd.PauseTask(task_id=task_id, spent_usd=over.spent, cap_usd=over.cap, date=over.date)
            await rt.coordinator.handle(pause)
            return
        except ModelPaused as paused:
            defer = cmd.DeferTask(task_id=task_id, reason=str(paused), open_until=paused.open_until)
            if (at := await rt.coordinator.handle(defer)) is not None:
                run_again_at(at)
            return
        if draft is not None:
            await rt.coordinator.handle(cmd.CompleteDraft(task_id, draft))

    await with_runtime(work)


def run_again_at(at: datetime) -> None:
    """RQ runs the job in hand once more at `at` (its own repeat, asked for from inside the job): the same job id,
    so the sweep sees the task has its job and starts nothing sooner."""
    job = get_current_job()
    if job is None:  # not under RQ (a test driving the coroutine): the sweep's reconcile runs it again
        return
    job.repeats_left = 1
    job.repeat_intervals = [max(1, math.ceil((at - datetime.now(UTC)).total_seconds()))]


async def _unless_stopped(rt: JobRuntime, task_id: str, drafting: Awaitable[Draft]) -> Draft | None:
    """The draft, or None if the operator stopped the task meanwhile (`/cancel <task id>`): checked every
    `STOP_CHECK_S`, and then the drafting (its model call with it) is abandoned."""
    job = asyncio.ensure_future(drafting)
    while True:
        done, _ = await asyncio.wait({job}, timeout=STOP_CHECK_S)
        if done:
            return job.result()
        current = await rt.store.get_task(task_id)
        if current is None or current.status is not TaskStatus.RUNNING:
            await end(job)
            log.info("task %s was stopped: its draft was abandoned", task_id)
            return None


async def _show(rt: JobRuntime, task: Task, text: str) -> None:
    """The task's progress message, edited in place (every channel) — while the task still runs: stopped
    (`/cancel`), its message says so, and a progress edit in the second before the worker notices must not
    write over that."""
    current = await rt.store.get_task(task.id)
    if current is None or current.status is not TaskStatus.RUNNING:
        return
    await rt.coordinator.core.show(
        task, Outbound(kind=Kind.PROGRESS, text=text, task_id=task.id, reply_to=task.event_id)
    )


@dataclass
class _RevisingLine:
    """A revision's progress, as a draft's is ("Revising p… (v1 → v2): “shorter” · Revising with gemma · 4 s · “…"),
    on the "Revising …" line the ask posted: edited in place where its reference was kept, else posted once."""

    rt: JobRuntime
    proposal: Proposal
    ask: Revising
    ref: str = ""

    async def __call__(self, text: str) -> None:
        message = Outbound(
            kind=Kind.PROGRESS,
            text=f"{revising_head(self.proposal.id, self.ask)} · {text}",
            task_id=self.proposal.task_id,
            reply_to=self.ask.event_id or None,
        )
        core, ref = self.rt.coordinator.core, self.ref or self.ask.ref
        if ref:
            await core.edit(self.ask.chat, ref, message)
        else:
            self.ref = await core.post(self.ask.chat, message) or ""


async def _revise_proposal(proposal_id: str) -> None:
    """The revision the operator asked for (the ask is on the proposal): the agent drafts it again with the
    feedback, and the core stages it as the next version or says why not. A run after it was answered does nothing."""

    async def work(rt: JobRuntime) -> None:
        proposal = await rt.store.get_proposal(proposal_id)
        task = await rt.store.get_task(proposal.task_id) if proposal else None
        if proposal is None or task is None or proposal.revising is None:
            return
        ask = proposal.revising
        line = _RevisingLine(rt, proposal, ask)
        reporter = Progress(line)
        try:
            async with progress.reporting(reporter):
                draft = await rt.drafter.revise(task, proposal, ask.feedback)
        except BudgetExceeded as over:
            draft = Reply(f"{over}; /budget shows today's spend", ok=False)
        if reporter.said:  # the line stops ticking: what it took (the card, or the reason, follows)
            await line(f"{reporter.step_text} · done in {reporter.clock() - reporter.started:.0f} s")
        await rt.coordinator.handle(cmd.StageRevision(proposal_id, draft, ask.event_id))

    await with_runtime(work)


async def fail_task(rt: JobRuntime, task_id: str, reason: str) -> None:
    await rt.coordinator.handle(cmd.FailTask(task_id, reason))


async def fail_apply(rt: JobRuntime, proposal_id: str, reason: str) -> None:
    """Out of retries: the task fails, and the operator is told the word that runs the rest again."""
    proposal = await rt.store.get_proposal(proposal_id)
    if proposal is not None:
        await rt.coordinator.handle(cmd.FailTask(proposal.task_id, reason, retry=proposal.id))


async def fail_revision(rt: JobRuntime, proposal_id: str, reason: str) -> None:
    """A revision that never came: the card stays, the operator hears."""
    await rt.coordinator.handle(cmd.StageRevision(proposal_id, Reply(f"it failed ({reason})", ok=False)))


@dataclass(frozen=True)
class JobKind:
    """One RQ entry point: its function, its job ids (`<prefix>-<record id>[-<part>…]`: one job per record, so
    nothing runs twice), what its last failed attempt does, and the latency histogram it counts in."""

    prefix: str
    func: Callable[[str], None]
    on_final_failure: Callable[[JobRuntime, str, str], Awaitable[None]]
    latency: str

    @property
    def func_name(self) -> str:
        return f"{self.func.__module__}.{self.func.__qualname__}"

    def job_id(self, record_id: str, *parts: object) -> str:
        return "-".join((self.prefix, record_id, *map(str, parts)))


RUN = JobKind("run", run_task, fail_task, latency="run")
APPLY = JobKind("apply", apply_proposal, fail_apply, latency="apply")
REVISE = JobKind("revise", revise_proposal, fail_revision, latency="run")
JOBS = {kind.func_name: kind for kind in (RUN, APPLY, REVISE)}
"""Every job Deputy enqueues, by the dotted name RQ stores with it."""


def kind_of(func_name: str | None) -> JobKind | None:
    return JOBS.get(func_name or "")


def on_failure(
    job: Any, connection: Any, kind: type[BaseException], value: BaseException, traceback: TracebackType | None
) -> None:
    """RQ calls this after every failed attempt; only the last one (no retries left) is handled, by its kind."""
    if job.retries_left:
        log.warning("job %s failed (%s: %s); %s retries left", job.id, kind.__name__, value, job.retries_left)
        return
    asyncio.run(_fail(job.func_name, job.args[0], in_words(value, job.timeout)))


def in_words(error: BaseException, timeout_s: Any = None) -> str:
    """Why a job failed for good, as the operator reads it: the error's own sentence, never a Python class name
    (the log, which goes to a file while the console runs, keeps the class and the traceback); a job stopped at
    its timeout says so."""
    if isinstance(error, JobTimeoutException):
        limit = f" ({timeout_s} s, DEPUTY_JOB_TIMEOUT_S)" if timeout_s else ""
        return f"it ran past its time limit{limit} and was stopped, each time it was tried"
    text = " ".join(str(error).split())
    return text or "it stopped before it finished (the details are in Deputy's log)"


async def _fail(func_name: str, record_id: str, reason: str) -> None:
    job = kind_of(func_name)
    if job is None:
        log.warning("a job Deputy does not know (%s) failed: %s", func_name, reason)
        return
    await with_runtime(lambda rt: job.on_final_failure(rt, record_id, reason))
