"""A task's life until its proposal is staged: submitted from chat or a hook, started by a worker, completed
with a draft (a proposal to stage, or a reply), or failed."""

from __future__ import annotations

import copy
import logging
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from orchestrator import commands as cmd
from orchestrator import policies
from orchestrator.core import Core, Outcome
from orchestrator.errors import BadRequest, Conflict
from orchestrator.events import Event
from orchestrator.handlers.applying import MAX_WAITS, WAITS_WINDOW_S, retry_advice
from orchestrator.handlers.reminders import schedule
from orchestrator.model import (
    TASK_TERMINAL,
    Actor,
    Proposal,
    ProposalDraft,
    Reply,
    StagedAction,
    Task,
    TaskStatus,
    Verdict,
)
from orchestrator.outbound import Kind, Outbound

log = logging.getLogger("deputy.core")


def delivery_key(c: cmd.SubmitTask) -> str:
    """The key its task's id is reserved under: the same delivery again finds the same task."""
    return c.task_key or f"{c.chat.platform}:{c.event_id}"


async def submit(c: cmd.SubmitTask, core: Core) -> Outcome:
    text = policies.check_request_text(c.text)
    policies.may_start_tasks(c.actor, core.config.operators)
    key = delivery_key(c)
    task_id, fresh = (c.task_id, False) if c.task_id else await core.ids.id_for(key, "t", core.config.dedupe_seconds)
    if not fresh and not c.task_id and await core.store.get_task(task_id) is not None:
        return Outcome(task_id)  # the same delivery again (a redelivery after a crash): one task
    now = core.now()
    task = Task(id=task_id, text=text, actor=c.actor, chat=c.chat, event_id=c.event_id, created_at=now, memory=c.memory)
    if c.drafted is not None:
        return await _at_once(core, task, c.drafted)
    if not await _first(core, [task], [task.submitted(now)]):
        return Outcome(task_id)
    if c.actor.platform != policies.HOOK and c.memory is None:  # a hook's card is enough; memory answers at once
        task.message_ref = await core.say(c.chat, Kind.PROGRESS, "On it…", task_id=task.id, reply_to=c.event_id)
    if task.message_ref:
        await _keep_message_ref(core, task.id, task.message_ref)
    await core.enqueue(core.queue.enqueue_run(task.id), f"run {task.id}")
    return Outcome(task.id)


async def _at_once(core: Core, task: Task, draft: ProposalDraft | Reply) -> Outcome:
    """A draft code made where the task came in: submitted, started and staged (or answered) in one commit and
    shown, with no job and no "Drafting…" between — the card is the task's first message. A crash before the
    post leaves the task unshown, and the show pass posts it (as after a worker's commit)."""
    now = core.now()
    events = [task.submitted(now), task.start(now)]
    if isinstance(draft, ProposalDraft):
        try:
            proposal = await proposal_from(core, task, draft)
        except BadRequest as err:
            draft = Reply(str(err), ok=False)
        else:
            if not await _first(core, [task, proposal], [*events, task.propose(proposal, now)]):
                return Outcome(task.id)
            return Outcome(task.id, then=await _staged(core, task, proposal, draft))
    if await _first(core, [task], [*events, _answered(task, draft, now)]):
        await _show_reply(core, task, draft)
    return Outcome(task.id)


async def _first(core: Core, records: list[Task | Proposal], events: list[Event]) -> bool:
    """A new task's first commit; False, with nothing written, when the task is there already: its delivery
    handled again (after a crash) under the id its take reserved, which is looked for here rather than before."""
    try:
        await core.store.commit(records, events)
    except Conflict:
        return False
    return True


async def _keep_message_ref(core: Core, task_id: str, ref: str) -> None:
    """Best effort: if a worker already took the task (the sweep can enqueue it) and posted, its message stays
    the task's own. Never let this retry the whole submit, which would create a second task."""
    try:
        await core.store.keep_ref(task_id, ref)
    except Exception:
        log.exception("could not save the message reference of task %s", task_id)


async def start(c: cmd.StartTask, core: Core) -> Outcome:
    """The task for the agent to draft, or None when a retried job finds it already past drafting."""
    task = await core.task(c.task_id)
    if task.status not in (TaskStatus.RECEIVED, TaskStatus.RUNNING, TaskStatus.PAUSED):
        return Outcome(None, then=(cmd.ShowAgain(task.id),))  # a re-run after a crash: shown, if it wasn't
    await core.store.commit([task], [task.start(core.now())])
    if task.memory is None:  # memory answers at once
        drafting = Outbound(kind=Kind.PROGRESS, text="Drafting…", task_id=task.id, reply_to=task.event_id)
        await core.show(task, drafting)
    return Outcome(task)


async def complete(c: cmd.CompleteDraft, core: Core) -> Outcome | None:
    task = await core.task(c.task_id)
    if task.status is not TaskStatus.RUNNING:
        return None
    if isinstance(c.draft, Reply):
        await _reply(core, task, c.draft)
        return None
    try:
        proposal = await proposal_from(core, task, c.draft)
    except BadRequest as err:
        await _reply(core, task, Reply(str(err), ok=False))
        return None
    await core.store.commit([task, proposal], [task.propose(proposal, core.now())])
    then = await _staged(core, task, proposal, c.draft)
    return Outcome(then=then) if then else None


async def _staged(core: Core, task: Task, proposal: Proposal, draft: ProposalDraft) -> tuple[cmd.Command, ...]:
    """After the commit that staged it: the card, or — when a rule approves it — the approval, after which it is
    shown once, already approved and naming the rule."""
    rule = None if draft.always_ask else await _auto_rule(core, proposal)
    if rule:
        return (_auto_approval(proposal, task, rule),)
    card = Outbound(
        kind=Kind.CARD, text=proposal.summary, proposal=proposal, task_id=task.id, reply_to=task.event_id, final=True
    )
    await core.show(task, card)
    return ()


def _auto_approval(proposal: Proposal, task: Task, rule: str) -> cmd.DecideProposal:
    return cmd.DecideProposal(
        proposal_id=proposal.id,
        actor=Actor("policy", rule, f"rule {rule}"),
        verdict=Verdict.APPROVE,
        chat=proposal.chat,
        version=proposal.version,
        reason=f"auto-approved by rule {rule}",
        event_id=task.event_id,
    )


async def _reply(core: Core, task: Task, reply: Reply) -> None:
    await core.store.commit([task], [_answered(task, reply, core.now())])
    await _show_reply(core, task, reply)


async def _show_reply(core: Core, task: Task, reply: Reply) -> None:
    kind = Kind.NOTICE if reply.ok else Kind.ERROR
    await core.show(task, Outbound(kind=kind, text=reply.text, task_id=task.id, reply_to=task.event_id, final=True))


def _answered(task: Task, reply: Reply, now: datetime) -> Event:
    return task.answer(reply.text, now, cost_usd=reply.cost_usd) if reply.ok else task.fail(reply.text, now, told=True)


async def proposal_from(core: Core, task: Task, draft: ProposalDraft) -> Proposal:
    """The proposal a draft stages for its task: each action validated and described by its connector."""
    actions = [core.stage(kind, fields) for kind, fields in draft.actions]
    offers = _offers(core, draft)
    if not actions and not offers:
        raise BadRequest("The draft had no action to stage.")
    proposal = Proposal(
        id=await _proposal_id(core, task),
        task_id=task.id,
        chat=task.chat,
        playbook=draft.playbook,
        summary=draft.summary,
        actions=actions,
        created_at=core.now(),
        risk=draft.risk,
        cost_estimate_usd=draft.cost_estimate_usd,
        cost_spent_usd=draft.cost_spent_usd,
        blocked_reason=core.blocked(actions),
        flagged=draft.flagged,
        drafted=copy.deepcopy(actions),
        revised=draft.revised,
        offers=offers,
    )
    if actions:  # a card that only shows something (an email) waits for no decision: nothing to remind of
        schedule(proposal, core.config.policies)
    return proposal


def _offers(core: Core, draft: ProposalDraft) -> dict[str, StagedAction]:
    """The card's offers its connectors accept; one they refuse (or that has no connector here) is left off."""
    found = {}
    for name, (kind, fields) in draft.offers.items():
        try:
            found[name] = core.stage(kind, fields)
        except BadRequest as err:
            log.info("offer %s (%s) left off the card: %s", name, kind, err)
    return found


async def _proposal_id(core: Core, task: Task) -> str:
    """A task has at most one proposal, so it takes the task's never-reused id with a `p` (one Redis write
    fewer per task); the commit still refuses to overwrite an existing record."""
    return f"p{task.id[1:]}" if task.id.startswith("t") else await core.ids.new_id("p")


async def _auto_rule(core: Core, proposal: Proposal) -> str | None:
    """The policy rule that approves this proposal without asking (named in the ledger), if any."""
    known: frozenset[str] = frozenset()
    if core.config.policies.needs_memory:
        known = await core.facts.known([a.target.lower() for a in proposal.actions])
    rule = policies.auto_approval_rule(proposal, core.config.policies.auto_approve, known)
    return rule or await _granted(core, proposal)


async def _granted(core: Core, proposal: Proposal) -> str | None:
    """Every action covered by a standing grant its connector holds (an MCP tool always allowed, and unchanged
    since): the grant is named in the ledger like a rule."""
    rules = []
    for action in proposal.actions:
        check = getattr(core.connectors.get(action.kind), "granted", None) if action.grant else None
        rule = await check(action.fields) if check is not None else ""
        if not rule:
            return None
        rules.append(rule)
    return ", ".join(dict.fromkeys(rules)) or None


async def defer(c: cmd.DeferTask, core: Core) -> Outcome | None:
    """A draft that met its model's open breaker waits for it, as an apply does (orchestrator/handlers/applying.py):
    the task stays running, its message says until when, and the job runs again then; after MAX_WAITS waits it
    ends as a draft that could not be made."""
    task = await core.task(c.task_id)
    if task.status is not TaskStatus.RUNNING:
        return None
    waits = await core.claims.tally(f"breaker-waits:{task.id}", WAITS_WINDOW_S)
    if waits > MAX_WAITS:
        await _reply(core, task, Reply(f"I couldn't draft this: {c.reason}. Nothing was staged.", ok=False))
        return None
    at = datetime.fromtimestamp(c.open_until, UTC) + timedelta(seconds=1)
    when = at.astimezone(ZoneInfo(core.config.timezone)).strftime("%H:%M:%S")
    text = f"Waiting: {c.reason}. Deputy will carry on at {when} by itself (wait {waits} of at most {MAX_WAITS})."
    await core.store.set_step(task.id, f"Waiting for the model until {when}")
    await core.show(task, Outbound(kind=Kind.PROGRESS, text=text, task_id=task.id, reply_to=task.event_id))
    return Outcome(at)


async def fail(c: cmd.FailTask, core: Core) -> None:
    task = await core.task(c.task_id)
    if task.status in TASK_TERMINAL:
        return
    await core.store.commit([task], [task.fail(c.reason, core.now())])
    text = failure_sentence(task.id, task.error, c.retry)
    await core.tell(task, Outbound(kind=Kind.ERROR, text=text, task_id=task.id, reply_to=task.event_id, final=True))


def failure_sentence(task_id: str, reason: str, retry: str) -> str:
    """One sentence: what failed, why, what Deputy does next and the word that tries again."""
    reason = reason.rstrip(". ")
    if retry:
        return f"Task {task_id} failed: {reason}. {retry_advice(retry)}"
    return f"Task {task_id} failed: {reason}. Nothing was done; send the request again when you want it tried."
