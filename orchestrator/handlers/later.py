"""Requests scheduled for later (`task.later`). When its time comes the scheduler runs each once — as a new task in
the same chat, with its own card, or, for a plain reminder, a message — late and saying so when Deputy was not
running then; /cancel (or the Cancel button) stops it before it runs. Any number of schedulers may find the same
item at once: `Later.take`, the new task's key (`later:<proposal>:<index>`) and the reminder's lease make it once."""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import timedelta
from zoneinfo import ZoneInfo

from orchestrator import commands as cmd
from orchestrator import policies
from orchestrator.core import Core, Outcome
from orchestrator.errors import AlreadyDecided, BadRequest
from orchestrator.handlers import stopping
from orchestrator.model import Proposal, ProposalStatus, Task
from orchestrator.outbound import Kind, Outbound
from orchestrator.ports import Scheduled
from orchestrator.text import one_line
from orchestrator.words import memory_ask

log = logging.getLogger("deputy.later")
LATER_KIND = "task.later"
LATE_AFTER = timedelta(minutes=1)
"""Later than this after its time (Deputy was down), a request says so when it runs."""
REMIND_LEASE_S = 120


async def run(c: cmd.RunLater, core: Core) -> Outcome | None:
    """Its time has come: the request as a new task in the proposal's chat (one, whoever else runs it), or the
    reminder said; `FinishLater` records it after."""
    item = await core.later.take(c.key)
    if item is None:
        return None  # it ran, or was cancelled, meanwhile
    source = await _source(core, item)
    if source is None:
        await core.later.fired(item.key, "")
        return None
    if item.remind:
        return await _remind(core, item, source)
    task_id, fresh = await core.ids.id_for(f"later:{item.key}", "t", core.config.dedupe_seconds)
    if fresh:  # the first to run it says why a card is coming
        await core.say(source.chat, Kind.REMINDER, _due(core, item, f"As scheduled ({item.proposal_id})"))
    submit = cmd.SubmitTask(
        text=item.request,
        actor=source.actor,
        chat=source.chat,
        event_id=f"later-{item.key}",
        task_key=f"later:{item.key}",
        memory=memory_ask(item.request),  # the operator's words, said later
    )
    return Outcome(task_id, then=(submit, cmd.FinishLater(item.key, task_id)))


async def _source(core: Core, item: Scheduled) -> Task | None:
    """The task that asked for it: its chat and its author are the new task's."""
    proposal = await core.store.get_proposal(item.proposal_id)
    return await core.store.get_task(proposal.task_id) if proposal else None


async def _remind(core: Core, item: Scheduled, source: Task) -> Outcome | None:
    """Committed, then said — the outbox way, as a card is: marked fired and unsaid in one step (so no later pass
    runs it again), then posted, then marked said. A pass that dies (or a platform that fails) in between leaves it
    unsaid, and the scheduler's show pass says it (`say_again`); only a death in the one Redis write after the
    platform's answer can say it twice. The lease keeps schedulers racing each other to one."""
    if not await core.claims.claim(f"later:{item.key}", REMIND_LEASE_S):
        return None
    if await core.later.fired(item.key, "", unsaid=True):
        await _say(core, item, source)
    return Outcome(then=(cmd.FinishLater(item.key),))


async def _say(core: Core, item: Scheduled, source: Task) -> None:
    message = Outbound(kind=Kind.REMINDER, text=_due(core, item, "Reminder"), final=True)
    try:
        await core.outbox.send(source.chat, message)
    except Exception:
        log.exception("could not say reminder %s; the show pass says it again", item.key)
        return
    await core.later.said(item.key)


async def say_again(c: cmd.SayReminder, core: Core) -> None:
    """A reminder committed as fired and never acknowledged by the chat: said now."""
    if c.key not in await core.later.unsaid():
        return  # said meanwhile
    item = next((i for i in await core.later.of(c.key.rsplit(":", 1)[0]) if i.key == c.key), None)
    source = await _source(core, item) if item is not None else None
    if item is None or source is None:
        await core.later.said(c.key)  # nothing left to say it about
        return
    await _say(core, item, source)


def _due(core: Core, item: Scheduled, what: str) -> str:
    late = core.now() - item.at
    if late <= LATE_AFTER:
        return f"{what}: {item.request}"
    return f"{what}, {_span(late)} late (Deputy wasn't running at {_when(core, item)}): {item.request}"


async def finish(c: cmd.FinishLater, core: Core) -> None:
    """The ledger says it ran, the source card loses its Cancel button, and the item is done (once)."""
    later = core.later
    item = next((i for i in await later.of(c.key.rsplit(":", 1)[0]) if i.key == c.key), None)
    if item is None or item.status == "cancelled" or (item.status == "fired" and not item.remind):
        return  # a reminder is marked fired as soon as it is said; its ledger line and card follow here
    proposal = await core.store.get_proposal(item.proposal_id)
    if proposal is not None and not proposal.actions[item.index].word:
        late = max(0.0, (core.now() - item.at).total_seconds())
        word = f"ran as task {c.task_id}" if c.task_id else "reminded you"
        word += f" at {core.now().astimezone(ZoneInfo(core.config.timezone)):%H:%M}"
        event = proposal.scheduled(item.index, word, core.now(), task=c.task_id, late_s=round(late, 1))
        await core.store.commit([proposal], [event])
        await _redraw(core, proposal, f"Done: {proposal.actions[item.index].outcome} · {word}")
    await later.fired(c.key, c.task_id)


async def cancel(c: cmd.CancelLater, core: Core) -> Outcome:
    """A proposal scheduled for later; given a task's id (`t…`), the running task itself (handlers/stopping.py);
    given no id, the only thing there is to cancel."""
    if not c.proposal_id:
        c = replace(c, proposal_id=await _only_cancellable(core))
    if c.proposal_id.startswith("t"):
        return await stopping.stop(c, core)
    proposal = await core.proposal(c.proposal_id)
    policies.require_operator(c.actor, core.config.operators, "cancel tasks scheduled for later")
    items = await core.later.of(proposal.id)
    if not items:
        raise BadRequest(_nothing(proposal))
    now = [await core.later.cancel(i.key) or i for i in items]
    stopped = [i for i in now if i.status == "cancelled" and not proposal.actions[i.index].word]
    if not stopped:
        raise AlreadyDecided(_too_late(proposal, now))
    word = f"cancelled by {c.actor.label} at {core.now().astimezone(ZoneInfo(core.config.timezone)):%H:%M}"
    await core.store.commit([proposal], [proposal.scheduled(i.index, word, core.now(), by=c.actor) for i in stopped])
    text = f"Cancelled by {c.actor.label}: {'; '.join(i.request for i in stopped)} — it won't run."
    await _redraw(core, proposal, text, reply_to=c.event_id)
    return Outcome(f"Cancelled {proposal.id}.")


async def _redraw(core: Core, proposal: Proposal, text: str, *, reply_to: str = "") -> None:
    task = await core.task(proposal.task_id)
    message = Outbound(
        kind=Kind.OUTCOME, text=text, proposal=proposal, task_id=task.id, reply_to=reply_to or None, final=True
    )
    await core.show(task, message)


async def _only_cancellable(core: Core) -> str:
    """Bare /cancel follows bare /approve: with exactly one thing to cancel — a request scheduled for later or a
    running task — that one; with none or several, say so and list them, each with its word."""
    found = {s.proposal_id: f"{s.request} ({_when(core, s)})" for s in await core.later.upcoming(20)}
    for status in stopping.STOPPABLE:
        for task_id in sorted(await core.store.ids("task", status.value))[:20]:
            task = await core.store.get_task(task_id)
            found.update({task_id: f"running: {task.text}"} if task else {})
    if len(found) == 1:
        return next(iter(found))
    if not found:
        raise BadRequest("Nothing is scheduled for later or running, so there is nothing to cancel.")
    listed = "\n".join(f"  /cancel {i} — {one_line(what, 70)}" for i, what in found.items())
    raise BadRequest(f"{len(found)} things could be cancelled: which one?\n{listed}")


def _nothing(proposal: Proposal) -> str:
    if proposal.status is ProposalStatus.PENDING and any(a.kind == LATER_KIND for a in proposal.actions):
        return f"Proposal {proposal.id} isn't approved, so nothing is scheduled yet: /reject {proposal.id} instead."
    return f"Nothing of {proposal.id} is scheduled for later. /status lists what is."


def _too_late(proposal: Proposal, items: list[Scheduled]) -> str:
    said = next((a.word for a in proposal.actions if a.kind == LATER_KIND and a.word), "")
    if said.startswith("cancelled"):
        return f"Proposal {proposal.id} was already {said}. Nothing changed."
    if said:
        return f"Too late to cancel {proposal.id}: it {said}. Nothing changed."
    return f"Too late to cancel {proposal.id}: it is running now. Nothing changed."


def _when(core: Core, item: Scheduled) -> str:
    local = item.at.astimezone(ZoneInfo(core.config.timezone))
    return f"{local:%a} {local.day} {local:%b %H:%M}"


def _span(delta: timedelta) -> str:
    minutes = int(delta.total_seconds() // 60)
    if minutes < 60:
        return f"{minutes} min"
    if minutes >= 48 * 60:
        return f"{minutes // 1440} days"
    return f"{minutes // 60} h" + (f" {minutes % 60} min" if minutes % 60 else "")


async def upcoming_lines(core: Core) -> list[str]:
    """/status: what is scheduled, soonest first."""
    items = await core.later.upcoming(10)
    lines = [f"  {i.proposal_id}: {_when(core, i)} — {i.request}  (/cancel {i.proposal_id})" for i in items]
    return [f"Scheduled for later: {len(items)}", *lines] if items else []
