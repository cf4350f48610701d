"""Revising a proposal with the operator's feedback. The ask is checked (an operator, a pending proposal, the
version they saw) and queued for an agent, which drafts it again in the playbook's shape; its revision becomes the
proposal's next version on the same card — validated like any draft, the same action kinds — or is refused with a
reply on the card. After a rejection with a reason, Revise with this instead makes the revision a new proposal:
the rejection stands."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from orchestrator import commands as cmd
from orchestrator import policies
from orchestrator.core import Core, Outcome
from orchestrator.errors import AlreadyDecided, BadRequest, Conflict, StaleVersion
from orchestrator.model import (
    Decision,
    Proposal,
    ProposalDraft,
    ProposalStatus,
    Reply,
    Revising,
    StagedAction,
    Task,
    Verdict,
)
from orchestrator.outbound import Kind, Outbound, money

FEEDBACK_CHARS = 500
STALE_ASK = timedelta(minutes=15)
"""An ask whose revision never came (its job was lost) stops blocking a new one after this long."""
EXAMPLE = "/revise p1 shorter, mention the late fee"


async def ask(c: cmd.ReviseProposal, core: Core) -> Outcome:
    proposal = await core.proposal(c.proposal_id)
    policies.require_operator(c.actor, core.config.operators, "revise proposals")
    if proposal.revising is not None and c.event_id and proposal.revising.event_id == c.event_id:
        return await _queued(core, proposal, proposal.revising)  # the same stored ask handled again after a crash
    if proposal.status is ProposalStatus.REJECTED and not c.feedback.strip():  # typed Revise with this instead
        instead = cmd.ReviseRejected(proposal_id=proposal.id, actor=c.actor, chat=c.chat, event_id=c.event_id)
        return await ask_instead(instead, core)
    feedback = _feedback(c.feedback, proposal.id)
    _check_revisable(core, proposal, c.version)
    return await _queue(core, proposal, Revising(feedback, c.actor, c.chat, proposal.version, c.event_id, core.now()))


async def ask_instead(c: cmd.ReviseRejected, core: Core) -> Outcome:
    """The rejection's reason as the feedback, for a revision that comes as a new proposal."""
    proposal = await core.proposal(c.proposal_id)
    policies.require_operator(c.actor, core.config.operators, "revise proposals")
    d = proposal.decision
    if proposal.status is not ProposalStatus.REJECTED or d is None or not d.reason:
        raise AlreadyDecided(f"Proposal {proposal.id} was not rejected with a reason; /revise {proposal.id} instead.")
    if proposal.revised_as:
        raise AlreadyDecided(f"Proposal {proposal.id} was already revised as {proposal.revised_as}. Nothing changed.")
    if proposal.revising is not None and proposal.revising.event_id == c.event_id:
        return await _queued(core, proposal, proposal.revising)
    _in_flight(core, proposal)
    feedback = _feedback(d.reason, proposal.id)
    revising = Revising(feedback, c.actor, c.chat, proposal.version, c.event_id, core.now(), successor=True)
    return await _queue(core, proposal, revising)


def _feedback(text: str, proposal_id: str) -> str:
    feedback = " ".join(text.split())
    if not feedback:
        raise BadRequest(f"What should change? Type /revise {proposal_id} <what to change>, e.g. {EXAMPLE}.")
    return feedback if len(feedback) <= FEEDBACK_CHARS else feedback[: FEEDBACK_CHARS - 1] + "…"


def _check_revisable(core: Core, proposal: Proposal, version: int | None) -> None:
    if (d := proposal.decision) is not None:
        raise AlreadyDecided(
            f"Proposal {proposal.id} was already {_done(d)} by {d.actor.label} at {d.at:%H:%M}; "
            "there is nothing to revise. Nothing changed."
        )
    if proposal.status is not ProposalStatus.PENDING:
        raise AlreadyDecided(f"Proposal {proposal.id} is {proposal.status.value}; there is nothing to revise.")
    if proposal.playbook == policies.BUDGET_PLAYBOOK:
        raise BadRequest("The budget question can't be revised: raise today's budget, or stop the waiting tasks.")
    if version is not None and version != proposal.version:
        raise StaleVersion(
            f"Proposal {proposal.id} changed since this card (v{version}): it is now version {proposal.version} "
            "— here is the current one. Nothing changed.",
            proposal_id=proposal.id,
        )
    _in_flight(core, proposal)


def _done(decision: Decision) -> str:
    return "approved" if decision.verdict is Verdict.APPROVE else "rejected"


def _in_flight(core: Core, proposal: Proposal) -> None:
    """One revision at a time: the next ask goes on the version it makes."""
    ask = proposal.revising
    if ask is not None and core.now() - ask.at < STALE_ASK:
        raise AlreadyDecided(
            f"Proposal {proposal.id} is being revised already (“{ask.feedback}”, asked by {ask.actor.label} at "
            f"{ask.at:%H:%M}); the new version comes on its card. Nothing changed."
        )


async def _queue(core: Core, proposal: Proposal, revising: Revising) -> Outcome:
    proposal.revising = revising
    await core.store.commit([proposal], [])
    return await _queued(core, proposal, revising)


async def _queued(core: Core, proposal: Proposal, revising: Revising) -> Outcome:
    """A line that says the revision is coming (its job's progress edits it; the new card answers the ask), then
    the job."""
    text = f"{revising_head(proposal.id, revising)}…"
    if revising.ref:  # the same ask again (after a crash): its line is there
        await core.edit(revising.chat, revising.ref, _revising_line(proposal, revising, text))
    else:
        ref = await core.post(revising.chat, _revising_line(proposal, revising, text))
        await _keep_ref(core, proposal, revising, ref or "")
    await core.enqueue(core.queue.enqueue_revise(proposal.id, revising.version), f"revise {proposal.id}")
    return Outcome(f"Revising {proposal.id}…")


def revising_head(proposal_id: str, revising: Revising) -> str:
    """What the revision's progress message says before its step: which proposal, which versions, the feedback."""
    new = "as a new proposal" if revising.successor else f"(v{revising.version} → v{revising.version + 1})"
    return f"Revising {proposal_id} {new}: “{revising.feedback}”"


def _revising_line(proposal: Proposal, revising: Revising, text: str) -> Outbound:
    return Outbound(kind=Kind.PROGRESS, text=text, task_id=proposal.task_id, reply_to=revising.event_id or None)


async def _keep_ref(core: Core, proposal: Proposal, revising: Revising, ref: str) -> None:
    """Best effort, before the job runs: the message's reference, so its progress edits it instead of posting."""
    if not ref:
        return
    proposal.revising = replace(revising, ref=ref)
    try:
        await core.store.commit([proposal], [])
    except Conflict:
        proposal.revising = revising


# ---- the agent's revision ---------------------------------------------------------------------------------


async def stage(c: cmd.StageRevision, core: Core) -> Outcome | None:
    """Stage the revision as the next version and redraw the card in place, or say why not; once per ask."""
    proposal = await core.proposal(c.proposal_id)
    revising = proposal.revising
    if revising is None or (c.ask and c.ask != revising.event_id):
        return None  # answered already (a job run twice), or an older ask's late answer
    try:
        draft, actions = _staged(core, proposal, revising, c.draft)
    except BadRequest as err:
        await _refuse(core, proposal, revising, str(err), _cost(c.draft))
        return None
    task = await core.task(proposal.task_id)
    if revising.successor:
        return await _successor(core, proposal, task, draft)
    await _next_version(core, proposal, task, draft, actions)
    return None


def _staged(
    core: Core, proposal: Proposal, revising: Revising, draft: ProposalDraft | Reply
) -> tuple[ProposalDraft, list[StagedAction]]:
    """The revision's actions as their connectors validate them, or `BadRequest`: the proposal must still be the
    version the operator saw, and the kinds of action can't change."""
    if not revising.successor and (
        proposal.status is not ProposalStatus.PENDING or proposal.version != revising.version
    ):
        raise BadRequest(_moved_on(proposal))
    if isinstance(draft, Reply):
        raise BadRequest(draft.text)
    actions = [core.stage(kind, fields) for kind, fields in draft.actions]
    if [a.kind for a in actions] != [a.kind for a in proposal.actions]:
        raise BadRequest("the revision changed what kinds of action the proposal makes, which a revision can't")
    return draft, actions


async def _next_version(
    core: Core, proposal: Proposal, task: Task, draft: ProposalDraft, actions: list[StagedAction]
) -> None:
    revising = proposal.revising
    assert revising is not None
    event = proposal.revise(actions, draft.summary, draft.cost_spent_usd, core.now())
    proposal.blocked_reason = core.blocked(actions)
    await core.store.commit([proposal], [event])
    await core.show(task, _card(proposal, reply_to=revising.event_id))
    if revising.chat != task.chat:
        said = f"Revised {proposal.id}: version {proposal.version} is on its card."
        await core.say(revising.chat, Kind.NOTICE, said, reply_to=revising.event_id or None, final=True)


def _cost(draft: ProposalDraft | Reply) -> float:
    return draft.cost_usd if isinstance(draft, Reply) else draft.cost_spent_usd


def _moved_on(proposal: Proposal) -> str:
    if (d := proposal.decision) is not None:
        return f"it was {_done(d)} by {d.actor.label} at {d.at:%H:%M} meanwhile"
    return f"it changed meanwhile (now version {proposal.version}); ask again on the current card"


async def _refuse(core: Core, proposal: Proposal, revising: Revising, why: str, spent: float) -> None:
    """The card stays as it was; the reply says why, and what the attempt cost."""
    proposal.revising = None
    proposal.cost_spent_usd = round(proposal.cost_spent_usd + spent, 8)
    await core.store.commit([proposal], [])
    cost = f" ({money(spent)})" if spent else ""
    text = f"Couldn't revise {proposal.id} with “{revising.feedback}”{cost}: {why.rstrip('.')}. Nothing changed."
    await core.say(revising.chat, Kind.ERROR, text, task_id=proposal.task_id, reply_to=revising.event_id, final=True)


async def _successor(core: Core, rejected: Proposal, task: Task, draft: ProposalDraft) -> Outcome:
    """Revise with this instead: a task of the same request, in the same chat, whose draft is the revision; staging
    it shows its card (a new proposal, "revised: …")."""
    revising, now = rejected.revising, core.now()
    assert revising is not None
    redo = Task(
        id=await core.ids.new_id("t"),
        text=task.text,
        actor=revising.actor,
        chat=rejected.chat,
        event_id=revising.event_id,
        created_at=now,
    )
    rejected.revising, rejected.revised_as = None, f"p{redo.id[1:]}"
    await core.store.commit([redo, rejected], [redo.submitted(now), redo.start(now)])
    redrafted = replace(draft, revised=revising.feedback, summary=f"{draft.summary}\n(revises {rejected.id})")
    return Outcome(then=(cmd.CompleteDraft(redo.id, redrafted),))


def _card(proposal: Proposal, *, reply_to: str) -> Outbound:
    return Outbound(
        kind=Kind.CARD,
        text=proposal.summary,
        proposal=proposal,
        task_id=proposal.task_id,
        reply_to=reply_to or None,
        final=True,
    )
