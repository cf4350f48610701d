"""The read side: the texts of /status, /budget and /stats, the lists the channels' home screens and the digest
show, and the proposal a button or a modal names. Nothing here changes state. Adapters and the scheduler read
through a `Views` (the Coordinator's `views`); the ShowView handler and the scheduler's pass use the functions."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

from orchestrator import stats
from orchestrator.core import Core
from orchestrator.handlers.later import upcoming_lines
from orchestrator.model import Proposal, ProposalStatus, Task, TaskStatus
from orchestrator.outbound import money
from orchestrator.stats import Figures, Stats
from orchestrator.text import one_line


class Views:
    """What adapters may read of the core, and nothing they could change it with."""

    def __init__(self, core: Core) -> None:
        self._core = core

    async def proposal(self, proposal_id: str) -> Proposal:
        """By id, by a unique start of it, or the only one waiting (`Core.proposal`): what a button names."""
        return await self._core.proposal(proposal_id)

    async def pending(self) -> list[Proposal]:
        return await pending(self._core)

    async def running(self, limit: int = 10) -> list[Task]:
        return await running(self._core, limit)

    async def running_ids(self) -> list[str]:
        return await running_ids(self._core)

    async def unsure(self, limit: int = 10) -> tuple[int, list[str]]:
        return await unsure(self._core, limit)

    async def spend_text(self) -> str:
        return await spend_text(self._core)

    async def budget_text(self) -> str:
        return await budget_text(self._core)

    async def status_text(self) -> str:
        return await status_text(self._core)

    async def client_counts(self, figures: Stats, limit: int = 3) -> list[str]:
        return await client_counts(self._core, figures, limit)

    async def figures(self, start: datetime | None) -> Stats:
        """The outcome figures from `start` on (None: the whole ledger), with the policies' minutes saved."""
        return await stats.collect(self._core.ledger, self._core.config.policies.minutes, start)

    @property
    def minutes_saved(self) -> dict[str, float]:
        """Minutes saved per action kind, as the policies file says (/metrics counts them)."""
        return self._core.config.policies.minutes

    def now(self) -> datetime:
        return self._core.now()


async def running_ids(core: Core) -> list[str]:
    statuses = (TaskStatus.RECEIVED, TaskStatus.RUNNING, TaskStatus.APPLYING)
    found = await asyncio.gather(*(core.store.ids("task", status.value) for status in statuses))
    return sorted(i for ids in found for i in ids)


async def running(core: Core, limit: int = 10) -> list[Task]:
    """The first `limit` running tasks: a screen shows a few, however many there are."""
    found = [await core.store.get_task(tid) for tid in (await running_ids(core))[:limit]]
    return [t for t in found if t is not None]


async def pending(core: Core) -> list[Proposal]:
    ids = sorted(await core.store.ids("proposal", ProposalStatus.PENDING.value))
    return [p for p in [await core.store.get_proposal(pid) for pid in ids] if p is not None]


async def spend_text(core: Core) -> str:
    date = core.today()
    return f"{money(await core.spend.day(date))} of ${await core.spend.cap(date):.2f}"


async def status_text(core: Core) -> str:
    running_now, waiting = await running_ids(core), await pending(core)
    listed = f" ({', '.join(running_now[:10])})" if running_now else ""
    lines = [
        f"Running tasks: {len(running_now)}{listed}",
        *await running_lines(core),
        f"Pending proposals: {len(waiting)}",
    ]
    paused = await core.store.ids("task", TaskStatus.PAUSED.value)
    if paused:
        lines.insert(1, f"Paused for today's budget: {len(paused)} ({', '.join(paused[:10])})")
    lines += [f"  {p.id}: {headline(p)}  (/approve {p.id} · /reject {p.id})" for p in waiting[:10]]
    lines += await unsure_lines(core)
    lines += await upcoming_lines(core)
    lines.append(f"Spend today: {await spend_text(core)}")
    return "\n".join(lines)


async def running_lines(core: Core) -> list[str]:
    """Each running task with its step (what its progress message says it is doing), the time it has taken and how
    to stop it."""
    now, lines, tasks = core.now(), [], await running(core)
    steps = await core.store.steps([t.id for t in tasks])
    for task in tasks:
        took = max(0, int((now - task.created_at).total_seconds()))
        step = f"{steps[task.id]} · " if task.id in steps else ""
        lines.append(f"  {task.id}: {step}{took} s — {one_line(task.text, 60)}  (/cancel {task.id})")
    return lines


async def unsure(core: Core, limit: int = 10) -> tuple[int, list[str]]:
    """Applies stopped at an action that may not have been sent, waiting for the operator's word: how many, and
    the first `limit` as `<proposal id>: <request>  (/resend … · /sent …)`."""
    ids = sorted(await core.store.ids("task", TaskStatus.AWAITING_OPERATOR.value))
    tasks = [t for t in [await core.store.get_task(tid) for tid in ids[:limit]] if t is not None and t.proposal_id]
    return len(ids), [
        f"{t.proposal_id}: {one_line(t.text, 60)}  (/resend {t.proposal_id} · /sent {t.proposal_id})" for t in tasks
    ]


async def unsure_lines(core: Core) -> list[str]:
    count, lines = await unsure(core)
    return (
        [f"May not have been sent, waiting for your word: {count}", *(f"  {line}" for line in lines)] if count else []
    )


async def budget_text(core: Core) -> str:
    date, budget = core.today(), core.config.daily_budget_usd
    spent, cap, models = await core.spend.day(date), await core.spend.cap(date), await core.spend.models(date)
    lines = [f"Model spend today ({date}): {money(spent)} of ${cap:.2f}"]
    if cap > budget:
        lines[0] += f" (raised from ${budget:.2f} today)"
    for m in sorted(models, key=lambda m: -m.usd):
        cached = f", {m.cache_hits} from cache" if m.cache_hits else ""
        price = f" — {m.unpriced} unpriced (no known price: not counted)" if m.unpriced else ""
        lines.append(f"  {m.model}: {money(m.usd)} in {m.calls} calls{cached}{price}")
    if not models:
        lines.append("  no model calls yet today")
    return "\n".join(lines)


async def stats_text(core: Core, arg: str) -> str:
    """/stats [7d]: what became of the proposals of the last days, read from the ledger from where they begin."""
    span = stats.window(arg)
    figures = await stats.collect(core.ledger, core.config.policies.minutes, core.now() - span)
    return outcomes_text(figures, span) + await per_client(core, figures)


async def per_client(core: Core, figures: Stats, limit: int = 5) -> str:
    lines = await client_counts(core, figures, limit)
    return "\nPer client:\n" + "\n".join(f"  {line}" for line in lines) if lines else ""


async def client_counts(core: Core, figures: Stats, limit: int = 5) -> list[str]:
    """ "Acme Corp: 4 email.send" for the clients with the most applied actions (records still on file)."""
    busiest = sorted(figures.clients.items(), key=lambda item: -sum(item[1].values()))[:limit]
    lines = []
    for record_id, kinds in busiest:
        entity = await core.book.get(record_id)
        if entity is not None:
            lines.append(f"{entity.name}: " + ", ".join(f"{n} {kind}" for kind, n in sorted(kinds.items())))
    return lines


SAID = {
    "approved_as_drafted": "as drafted",
    "approved_after_change": "changed first",
    "rejected": "rejected",
    "undone": "undone",
    "expired": "expired",
    "failed": "failed",
    "pending": "waiting",
}


def outcomes_text(figures: Stats, span: timedelta) -> str:
    """A short block, a line per action kind, readable on a phone."""
    t, last = figures.totals, _span(span)
    answered = f", {figures.answered} answered without an action" if figures.answered else ""
    if not t.proposed:
        return f"Nothing was proposed in the last {last}{answered}. Model spend: {money(figures.cost_usd)}."
    lines = [f"Last {last}: {t.proposed} proposal{'s' if t.proposed != 1 else ''}{answered}", _outcomes(t)]
    lines += [f"  {kind} {f.proposed}: {_outcomes(f)}" for kind, f in sorted(figures.kinds.items())]
    if t.auto_approved:
        lines.append("Auto-approved: " + ", ".join(f"{n} by {rule}" for rule, n in sorted(t.auto_approved.items())))
    lines.append(f"Caught: {t.caught} (rejected, revised or doubted by the verifier)")
    if t.median_decision_s is not None:
        lines.append(f"Median time to decide: {stats.duration_text(t.median_decision_s)}")
    lines.append(f"Saved: {stats.saved_text(t.minutes_saved)} · model spend {money(figures.cost_usd)}")
    return "\n".join(lines)


def _outcomes(f: Figures) -> str:
    return " · ".join(f"{f.outcomes[name]} {said}" for name, said in SAID.items() if f.outcomes[name])


def _span(span: timedelta) -> str:
    if span % timedelta(days=1):
        return f"{span // timedelta(hours=1)} h"
    return "24 h" if span.days == 1 else f"{span.days} days"


def headline(proposal: Proposal) -> str:
    """The proposal's first line: lists show that, the notes under it (citations, doubts) belong on its card."""
    return proposal.summary.split("\n", 1)[0]
