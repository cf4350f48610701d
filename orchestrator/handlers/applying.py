"""Applying an approved proposal: each action exactly once through its connector, under its idempotency key
`proposal_id:action_index`; safe to re-run after any crash, because every outcome is in its idempotency record
before the commit that reports it."""

from __future__ import annotations

import logging

from orchestrator import commands as cmd
from orchestrator.core import Core, Outcome
from orchestrator.errors import CircuitOpen, PermanentConnectorError, TransientConnectorError
from orchestrator.events import Event
from orchestrator.model import TASK_TERMINAL, ActionStatus, Proposal, ProposalStatus, StagedAction, Task, TaskStatus
from orchestrator.outbound import Kind, Outbound, money
from orchestrator.policies import BUDGET_PLAYBOOK
from orchestrator.ports import Connector

log = logging.getLogger("deputy.core")
FAILED_PREFIX = "failed: "


async def apply(c: cmd.ApplyProposal, core: Core) -> Outcome | None:
    proposal = await core.proposal(c.proposal_id)
    if proposal.status is not ProposalStatus.APPROVED:
        return None
    task = await core.task(proposal.task_id)
    if task.status in TASK_TERMINAL:  # a retry after a crash between a budget raise and the resume resumes
        resumed = proposal.playbook == BUDGET_PLAYBOOK and task.status is TaskStatus.DONE
        return Outcome(then=(cmd.ResumePaused(),)) if resumed else None
    if proposal.hold_until and core.now() < proposal.hold_until:
        log.info("proposal %s is held for undo until %s", proposal.id, proposal.hold_until)
        return None  # the sweep enqueues it again for the end of the window
    await _begin(core, task, proposal)
    events: list[Event] = []
    for index, action in enumerate(proposal.actions):
        if action.status is ActionStatus.APPLYING:
            ok, outcome = await _call_once(core, core.connectors[action.kind], action, f"{proposal.id}:{index}")
            new = ActionStatus.APPLIED if ok else ActionStatus.FAILED
            events.append(proposal.action_moved(index, new, core.now(), outcome))
    return await _settle(core, task, proposal, events)


async def _begin(core: Core, task: Task, proposal: Proposal) -> None:
    now = core.now()
    events = [e for e in [task.applying(now)] if e]
    events += [
        proposal.action_moved(i, ActionStatus.APPLYING, now)
        for i, a in enumerate(proposal.actions)
        if a.status is ActionStatus.STAGED
    ]
    if events:
        await core.store.commit([task, proposal], events)


async def _call_once(core: Core, connector: Connector, action: StagedAction, key: str) -> tuple[bool, str]:
    """The exactly-once step. Intent is recorded before the call and the outcome after; an attempt that
    finds intent without outcome was cut short by a crash. It re-sends only when the far side dedupes on
    the key; otherwise it reports the action as applied but unconfirmed rather than risk a duplicate.
    A transient error drops the intent (nothing was delivered) and propagates, so the job retries."""
    prior = await core.records.begin(key)
    if prior is not None and prior.outcome is not None:
        return _parse_outcome(prior.outcome)
    if prior is not None and not connector.resend_safe:
        action.unconfirmed = True
        outcome = f"{action.summary} — unconfirmed: Deputy stopped mid-send; not re-sent to avoid a duplicate"
        await core.records.finish(key, outcome)
        return True, outcome
    try:
        outcome = await connector.apply(action.fields, key)
    except CircuitOpen as err:
        await core.records.forget(key)
        if err.just_opened:
            await core.say(core.config.notices, Kind.ERROR, f"{action.kind} paused: {err}")
        raise
    except TransientConnectorError:
        await core.records.forget(key)
        raise
    except PermanentConnectorError as err:
        await core.records.finish(key, f"{FAILED_PREFIX}{err}")
        return False, str(err)
    await core.records.finish(key, outcome)
    return True, outcome


async def _settle(core: Core, task: Task, proposal: Proposal, events: list[Event]) -> Outcome | None:
    failed = [a for a in proposal.actions if a.status is ActionStatus.FAILED]
    outcomes = "; ".join(a.outcome for a in proposal.actions)
    d = proposal.decision
    by = f" · approved by {d.actor.label} {d.at:%H:%M}" if d else ""
    cost = f" · {money(proposal.cost_spent_usd)}"
    if failed:
        event = task.fail(f"{len(failed)} of {len(proposal.actions)} actions failed: {outcomes}", core.now())
        text, kind = f"Failed: {outcomes}{by}{cost}", Kind.ERROR
    else:
        event = task.finish(core.now(), outcomes)
        text, kind = f"Done: {outcomes}{by}{cost}", Kind.OUTCOME
    await core.store.commit([task, proposal], [*events, event])
    reply_to = (d.event_id or None) if d else None
    message = Outbound(kind=kind, text=text, proposal=proposal, task_id=task.id, reply_to=reply_to, final=True)
    await core.show(task, message)
    return Outcome(then=(cmd.ResumePaused(),)) if proposal.playbook == BUDGET_PLAYBOOK and not failed else None


def _parse_outcome(recorded: str) -> tuple[bool, str]:
    if recorded.startswith(FAILED_PREFIX):
        return False, recorded[len(FAILED_PREFIX) :]
    return True, recorded
