"""A card's offers: actions behind buttons of their own beside the card's decision (an inbox card's Mark read,
Archive, Add as client). A press is the operator's approval of that one action: it is staged as a proposal of
its own (its task found by the offer, so two presses make one), approved by the presser and applied once
through the ordinary apply path — the ledger, the idempotency record and "may not have happened" included.
When it settles, the offering card shows what became of it and no longer offers it. The core names no kind:
what an offer does is its staged action, which its connector validated when the card was staged."""

from __future__ import annotations

import copy

from orchestrator import commands as cmd
from orchestrator import policies
from orchestrator.core import Core, Outcome
from orchestrator.errors import AlreadyDecided, BadRequest
from orchestrator.handlers import decisions, showing
from orchestrator.model import Proposal, ProposalStatus, StagedAction, Task, Verdict

PLAYBOOK = "offer"


async def take(c: cmd.TakeOffer, core: Core) -> Outcome:
    """Stage the offer (once) and approve it as the presser; a second press, or one on a card whose offer was
    taken, changes nothing and says what became of the first."""
    policies.require_operator(c.actor, core.config.operators, f"press {c.label}")
    parent = await core.proposal(c.proposal_id)
    offer = parent.offers.get(c.name)
    if offer is None:
        raise BadRequest(f"{parent.id} offers no {c.label}: it is for an email's card. Nothing changed.")
    side = await core.store.get_proposal(offer.word) if offer.word else None
    if side is None:
        side = await _stage(core, parent, offer, c)
    if side.decision is not None and side.decision.event_id == c.event_id:  # the same press again (a redelivery)
        return Outcome(f"{c.label}: {side.actions[0].summary} ({side.id}).")
    if side.status is not ProposalStatus.PENDING or side.decision is not None:
        raise AlreadyDecided(_taken(c, parent, side))
    approval = cmd.DecideProposal(
        proposal_id=side.id,
        actor=c.actor,
        verdict=Verdict.APPROVE,
        chat=c.chat,
        reason=f"{c.label} pressed on {parent.id}",
        event_id=c.event_id,
        version=side.version,
    )
    decided = await decisions.decide(approval, core)
    return Outcome(f"{c.label}: {side.actions[0].summary} ({side.id}).", then=decided.then)


async def _stage(core: Core, parent: Proposal, offer: StagedAction, c: cmd.TakeOffer) -> Proposal:
    """The offer's task and proposal, and the offering card marked taken, in one commit (a concurrent press
    conflicts and, re-run, finds them)."""
    task_id, _ = await core.ids.id_for(f"offer:{parent.id}:{c.name}", "t", core.config.dedupe_seconds)
    now = core.now()
    task = Task(id=task_id, text=f"{c.label}: {offer.summary}", actor=c.actor, chat=parent.chat, event_id=c.event_id,
                created_at=now)  # fmt: skip
    side = Proposal(
        id=f"p{task_id[1:]}",
        task_id=task_id,
        chat=parent.chat,
        playbook=PLAYBOOK,
        summary=offer.summary,
        actions=[copy.deepcopy(offer)],
        created_at=now,
        parent=f"{parent.id}:{c.name}",
    )
    events = [task.submitted(now), task.start(now), task.propose(side, now)]
    offer.word = side.id
    await core.store.commit([task, side, parent], events)
    return side


def _taken(c: cmd.TakeOffer, parent: Proposal, side: Proposal) -> str:
    d = side.decision
    who = f" by {d.actor.label_for(c.actor.platform)} at {d.at:%H:%M}" if d else ""
    became = side.actions[0].outcome or "it is being done"
    return f"{c.label} was already pressed on {parent.id}{who} ({side.id}): {became}. Nothing was done twice."


async def done(c: cmd.OfferDone, core: Core) -> None:
    """The offering card learns what became of its offer, and is redrawn where it stands."""
    side = await core.proposal(c.proposal_id)
    parent_id, _, name = side.parent.rpartition(":")
    parent = await core.store.get_proposal(parent_id)
    offer = parent.offers.get(name) if parent else None
    if parent is None or offer is None:
        return
    action = side.actions[0]
    if (offer.status, offer.outcome) == (action.status, action.outcome):
        return  # told already (a re-run)
    offer.status, offer.outcome = action.status, action.outcome
    await core.store.commit([parent], [])
    task = await core.task(parent.task_id)
    message = showing.current(core, copy.deepcopy(task), parent)
    if message is not None:
        await core.edit(task.chat, task.message_ref, message) if task.message_ref else None
