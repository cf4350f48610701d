"""Deciding a proposal: approve or reject (first decision wins, at the version the operator saw), what follows
a decision, undo within the window, and edits that make a new version."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from typing import Any

from orchestrator import commands as cmd
from orchestrator import policies
from orchestrator.core import Core, Outcome
from orchestrator.errors import AlreadyDecided, BadRequest, Conflict, InvalidTransition, PolicyDenied, StaleVersion
from orchestrator.handlers.records import link_rejected
from orchestrator.model import Decision, Proposal, ProposalStatus, Task, TaskStatus, Verdict
from orchestrator.outbound import Kind, Outbound
from orchestrator.policies import BUDGET_PLAYBOOK


async def decide(c: cmd.DecideProposal, core: Core) -> Outcome:
    """Commit the decision; the presser's short answer is the value, the rest is `AfterDecision`. A decision
    applies to the version the operator saw: the card's, or for a typed one, what that chat was last shown."""
    proposal = await core.proposal(c.proposal_id)
    if _same_press(proposal, c):  # the same stored press handled again after a crash: already done
        return Outcome(f"{'Approved' if c.verdict is Verdict.APPROVE else 'Rejected'} {proposal.id}.")
    if c.version is None and c.chat != proposal.chat:
        c = replace(c, version=await core.digests.shown(c.chat, proposal.id))
    if c.actor.platform != "policy":
        policies.require_operator(c.actor, core.config.operators, "approve or reject proposals")
    _check_decidable(core, proposal, c)
    task = await core.task(proposal.task_id)
    decision = Decision(
        verdict=c.verdict,
        actor=c.actor,
        at=core.now(),
        version=proposal.version,
        reason=c.reason.strip(),
        event_id=c.event_id,
    )
    try:
        event = task.decide(proposal, decision)
    except InvalidTransition:
        raise Conflict("the task moved on while the proposal was read") from None  # re-read: the bus retries
    if c.verdict is Verdict.APPROVE and _undo_window(core, proposal):
        proposal.hold_until = decision.at + timedelta(seconds=core.config.undo_seconds)
    await core.store.commit([proposal, task], [event])
    after = cmd.AfterDecision(
        proposal=proposal, task=task, actor=c.actor, chat=c.chat, reason=c.reason, event_id=c.event_id
    )
    return Outcome(f"{'Approved' if c.verdict is Verdict.APPROVE else 'Rejected'} {proposal.id}.", then=(after,))


PAST = {Verdict.APPROVE: "approved", Verdict.REJECT: "rejected"}


def _same_press(proposal: Proposal, c: cmd.DecideProposal) -> bool:
    d = proposal.decision
    return d is not None and bool(c.event_id) and d.event_id == c.event_id and d.verdict is c.verdict


def _undo_window(core: Core, proposal: Proposal) -> bool:
    return core.config.undo_seconds > 0 and policies.is_undoable(proposal, core.config.policies)


def _check_decidable(core: Core, proposal: Proposal, c: cmd.DecideProposal) -> None:
    if proposal.decision is not None:
        d = proposal.decision
        raise AlreadyDecided(
            f"Proposal {proposal.id} was already {PAST[d.verdict]} by {d.actor.label_for(c.actor.platform)} at "
            f"{d.at:%H:%M}. "
            "Nothing changed."
        )
    if proposal.status is not ProposalStatus.PENDING:
        raise AlreadyDecided(f"Proposal {proposal.id} is {proposal.status.value}. Nothing changed.")
    if c.version is not None and c.version != proposal.version:
        raise StaleVersion(
            f"Proposal {proposal.id} changed since this card (v{c.version}): it is now version {proposal.version} "
            "— here is the current one. Nothing changed.",
            proposal_id=proposal.id,
        )
    if c.verdict is Verdict.APPROVE and not proposal.actions:
        raise BadRequest(
            f"{proposal.id} has nothing to approve: it shows an email. Its buttons file it; /reject {proposal.id} "
            "dismisses it."
        )
    if c.verdict is Verdict.APPROVE and (blocked := core.blocked(proposal.actions)):
        raise PolicyDenied(f"Can't approve {proposal.id}: {blocked}. You can still /reject {proposal.id}.")


async def after(c: cmd.AfterDecision, core: Core) -> Outcome | None:
    """Queue the apply (at the end of the undo window, if any) and redraw the card with the decision."""
    proposal, task, who = c.proposal, c.task, c.actor.label_for(c.task.chat.platform)
    approved = proposal.status is ProposalStatus.APPROVED
    if approved:
        await core.enqueue(core.queue.enqueue_apply(proposal.id, at=proposal.hold_until), f"apply {proposal.id}")
        text = f"Approved by {who} — applying {proposal.id}…"
        if proposal.hold_until:
            text = f"Approved by {who} — sending in {core.config.undo_seconds} s. /undo {proposal.id} to cancel."
    else:
        reason = f" Reason: {c.reason.strip()}" if c.reason.strip() else ""
        text = f"Rejected {proposal.id} ({who}). Nothing was done.{reason}"
        await link_rejected(core, proposal, who)
    kind = Kind.CARD if c.actor.platform == "policy" else Kind.OUTCOME  # an auto-approval was never shown
    reply_to = c.event_id or None
    await core.show(
        task, Outbound(kind=kind, text=text, proposal=proposal, task_id=task.id, reply_to=reply_to, final=not approved)
    )
    if c.chat != task.chat:
        await core.say(c.chat, Kind.NOTICE, text, task_id=task.id, reply_to=reply_to, final=True)
    if proposal.playbook == BUDGET_PLAYBOOK and not approved:
        return Outcome(then=(cmd.StopPaused(who),))
    return None


async def undo(c: cmd.UndoProposal, core: Core) -> None:
    proposal = await core.proposal(c.proposal_id)
    policies.require_operator(c.actor, core.config.operators, "undo actions")
    task = await core.task(proposal.task_id)
    if proposal.status is not ProposalStatus.APPROVED or task.status is not TaskStatus.APPROVED:
        raise AlreadyDecided(_too_late(proposal, task))
    event = task.undo(proposal, c.actor, core.now())
    await core.store.commit([proposal, task], [event])
    text = f"Undone: {proposal.id} was cancelled by {c.actor.label} before it ran. Nothing was sent."
    reply_to = c.event_id or None
    await core.show(
        task, Outbound(kind=Kind.OUTCOME, text=text, proposal=proposal, task_id=task.id, reply_to=reply_to, final=True)
    )
    if c.chat != task.chat:
        await core.say(c.chat, Kind.NOTICE, text, reply_to=reply_to, final=True)


def _too_late(proposal: Proposal, task: Task) -> str:
    if proposal.status is ProposalStatus.PENDING:
        return f"Proposal {proposal.id} is not approved yet; /reject {proposal.id} instead."
    if task.status in (TaskStatus.APPLYING, TaskStatus.DONE, TaskStatus.FAILED):
        done = "; ".join(a.outcome for a in proposal.actions if a.outcome) or "it is already running"
        return f"Too late to undo {proposal.id}: {done}."
    return f"Proposal {proposal.id} is {proposal.status.value}; there is nothing to undo."


async def edit(c: cmd.EditProposal, core: Core) -> None:
    proposal = await core.proposal(c.proposal_id)
    policies.require_operator(c.actor, core.config.operators, "edit proposals")
    if not 0 <= c.index < len(proposal.actions):
        raise BadRequest(f"Proposal {proposal.id} has no action #{c.index + 1}.")
    if proposal.status is not ProposalStatus.PENDING:
        raise AlreadyDecided(f"Proposal {proposal.id} is {proposal.status.value}; only a pending one can be edited.")
    old = proposal.actions[c.index]
    unknown = set(c.changes) - set(old.fields)
    if unknown:
        raise BadRequest(f"{old.kind} has no field {', '.join(sorted(unknown))}; it has {', '.join(old.fields)}.")
    changes = _amended(core, old.kind, old.fields, c.changes)
    event = proposal.edit(c.index, core.stage(old.kind, {**old.fields, **changes}), c.actor, core.now())
    await core.store.commit([proposal], [event])
    task = await core.task(proposal.task_id)
    card = Outbound(
        kind=Kind.CARD,
        text=proposal.summary,
        proposal=proposal,
        task_id=task.id,
        reply_to=c.event_id or None,
        final=True,
    )
    await core.show(task, card)


def _amended(core: Core, kind: str, fields: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    """A connector may read a typed value against the field's current one (`amend`: a time alone keeps the day)."""
    amend = getattr(core.connectors.get(kind), "amend", None)
    return dict(amend(fields, changes)) if amend is not None else changes
