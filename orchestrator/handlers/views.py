"""The read side: the texts of /status, /budget and /help, and the lists the channels' home screens show.
Nothing here changes state."""

from __future__ import annotations

from orchestrator import commands as cmd
from orchestrator import policies
from orchestrator.core import Core
from orchestrator.errors import BadRequest
from orchestrator.model import Proposal, ProposalStatus, Task, TaskStatus
from orchestrator.outbound import Kind, money
from orchestrator.words import help_text


async def show(c: cmd.ShowView, core: Core) -> None:
    texts = {"status": status_text, "budget": budget_text}
    if c.view == "help":
        text = help_text()
        if not policies.is_operator(c.actor, core.config.operators):
            text += "\n\n" + policies.not_operator_text(c.actor)
    elif c.view in texts:
        text = await texts[c.view](core)
    else:
        raise BadRequest(f"There is no /{c.view} view.")
    await core.say(c.chat, Kind.NOTICE, text, reply_to=c.event_id, final=True)


async def running(core: Core) -> list[Task]:
    ids = [
        tid
        for status in (TaskStatus.RECEIVED, TaskStatus.RUNNING, TaskStatus.APPLYING)
        for tid in await core.store.ids("task", status.value)
    ]
    return [t for t in [await core.store.get_task(tid) for tid in sorted(ids)] if t is not None]


async def pending(core: Core) -> list[Proposal]:
    ids = sorted(await core.store.ids("proposal", ProposalStatus.PENDING.value))
    return [p for p in [await core.store.get_proposal(pid) for pid in ids] if p is not None]


async def spend_text(core: Core) -> str:
    if core.spend is None:
        return f"$0.0000 of ${core.config.daily_budget_usd:.2f}"
    date = core.today()
    return f"{money(await core.spend.day(date))} of ${await core.spend.cap(date):.2f}"


async def status_text(core: Core) -> str:
    running_now, waiting = await running(core), await pending(core)
    listed = f" ({', '.join(t.id for t in running_now[:10])})" if running_now else ""
    lines = [f"Running tasks: {len(running_now)}{listed}", f"Pending proposals: {len(waiting)}"]
    paused = await core.store.ids("task", TaskStatus.PAUSED.value)
    if paused:
        lines.insert(1, f"Paused for today's budget: {len(paused)} ({', '.join(paused[:10])})")
    lines += [f"  {p.id}: {p.summary}  (/approve {p.id} · /reject {p.id})" for p in waiting[:10]]
    lines.append(f"Spend today: {await spend_text(core)}")
    return "\n".join(lines)


async def budget_text(core: Core) -> str:
    date, budget = core.today(), core.config.daily_budget_usd
    if core.spend is None:
        return f"Model spend today ({date}): $0.0000 of ${budget:.2f}."
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
