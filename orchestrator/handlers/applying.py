"""Applying an approved proposal: its actions in order, each exactly once through its connector under its
idempotency key `proposal_id:action_index`. An action is retried freely until it is handed to the outside
world; only an attempt lost after the hand-over is ambiguous, and then it is `uncertain` and the operator
decides (orchestrator/handlers/recovery.py). Safe to re-run after any crash, because every outcome is in its
idempotency record before the commit that reports it."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from orchestrator import commands as cmd
from orchestrator.core import Core, Outcome
from orchestrator.errors import CircuitOpen, ConnectorError, PermanentConnectorError, TransientConnectorError
from orchestrator.events import Event
from orchestrator.handlers.records import concerned, link_applied
from orchestrator.model import TASK_TERMINAL, ActionStatus, Proposal, ProposalStatus, StagedAction, Task, TaskStatus
from orchestrator.outbound import Kind, Outbound, money
from orchestrator.policies import BUDGET_PLAYBOOK
from orchestrator.ports import ActionRecords, Connector
from orchestrator.text import masked

log = logging.getLogger("deputy.core")
FAILED_PREFIX = "failed: "
UNCERTAIN_PREFIX = "uncertain: "
LOST = "Deputy stopped after handing it over, before it was confirmed"
MAX_WAITS = 6
"""How many times one apply waits for an open breaker before it fails like any transient error."""
WAITS_WINDOW_S = 24 * 3600
_S = ActionStatus


@dataclass(frozen=True)
class Attempt:
    status: ActionStatus
    outcome: str


async def apply(c: cmd.ApplyProposal, core: Core) -> Outcome | None:
    proposal = await core.proposal(c.proposal_id)
    if proposal.status is not ProposalStatus.APPROVED:
        return None
    task = await core.task(proposal.task_id)
    shown = cmd.ShowAgain(task.id)  # a re-run after a crash between the commit and the post shows what it said
    if task.status in TASK_TERMINAL:  # a retry after a crash between a budget raise and the resume resumes
        resumed = proposal.playbook == BUDGET_PLAYBOOK and task.status is TaskStatus.DONE
        return Outcome(then=(shown, cmd.ResumePaused()) if resumed else (shown,))
    if task.status is TaskStatus.AWAITING_OPERATOR:
        return Outcome(then=(shown,))  # something may not have been sent: nothing runs before the operator's word
    if proposal.hold_until and core.now() < proposal.hold_until:
        log.info("proposal %s is held for undo until %s", proposal.id, proposal.hold_until)
        return None  # the sweep enqueues it again for the end of the window
    await _begin(core, task, proposal)
    try:
        events = await _in_order(core, proposal)
    except CircuitOpen as err:
        await _defer(core, task, proposal, err)
        return None
    except TransientConnectorError as err:  # the job tries again (2 s, 10 s, 30 s): the card says why, in words
        text = f"Not done yet: {masked(str(err))}. Deputy will try again shortly."
        await core.show(task, Outbound(kind=Kind.PROGRESS, text=text, task_id=task.id))
        raise
    return await settle(core, task, proposal, events)


async def _defer(core: Core, task: Task, proposal: Proposal, err: CircuitOpen) -> None:
    """A connector paused by its breaker: the apply waits until the breaker lets calls through and runs then
    (held like an undo window, which the sweep releases), at most MAX_WAITS times; after that it fails as any
    transient error does. What applied before it stays applied (its record says so on the re-run)."""
    waits = await core.claims.tally(f"breaker-waits:{proposal.id}", WAITS_WINDOW_S)
    if err.open_until is None or waits > MAX_WAITS:
        raise err
    at = datetime.fromtimestamp(err.open_until, UTC) + timedelta(seconds=1)
    proposal.hold_until = at
    await core.store.commit([proposal], [])
    when = at.astimezone(ZoneInfo(core.config.timezone)).strftime("%H:%M:%S")
    text = f"Waiting: {err}. Deputy will carry on at {when} by itself (wait {waits} of at most {MAX_WAITS})."
    await core.show(task, Outbound(kind=Kind.PROGRESS, text=text, task_id=task.id))


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


async def _in_order(core: Core, proposal: Proposal) -> list[Event]:
    """Each action once the ones before it applied. The first that doesn't apply stops the rest: after a
    failure they are not run; after one that may not have been sent they wait for the operator's word."""
    events: list[Event] = []
    for index, action in enumerate(proposal.actions):
        if action.status is _S.APPLIED:
            continue
        if action.status is not _S.APPLYING:
            break
        attempt = await _call_once(core, core.connectors[action.kind], action, f"{proposal.id}:{index}")
        events.append(proposal.action_moved(index, attempt.status, core.now(), attempt.outcome))
        if attempt.status is not _S.APPLIED:
            break
    for event in events:  # after all of them: an onboarding's email concerns the client its last action creates
        if event.action_index is not None and event.action_status == _S.APPLIED.value:
            fields = proposal.actions[event.action_index].fields
            event.detail["records"] = await concerned(core.book, fields)
    if any(a.status is _S.FAILED for a in proposal.actions):
        events += [
            proposal.action_moved(i, _S.NOT_RUN, core.now())
            for i, a in enumerate(proposal.actions)
            if a.status is _S.APPLYING
        ]
    return events


@dataclass
class _HandOver:
    """The callable a connector awaits at its point of no return: it records the hand-over, and remembers it."""

    records: ActionRecords
    key: str
    done: bool = False

    async def __call__(self) -> None:
        await self.records.handed_over(self.key)
        self.done = True


async def _call_once(core: Core, connector: Connector, action: StagedAction, key: str) -> Attempt:
    """The exactly-once step. The record of this attempt holds whether the action was handed over and its
    outcome. An earlier attempt that left neither was cut short before anything left Deputy: it is simply
    tried again. One cut short after the hand-over is re-sent only when the far side dedupes on the key;
    otherwise the action is uncertain. A transient error drops the record (nothing was delivered) and
    propagates, so the job retries."""
    record = action.record_key(key)
    prior = await core.records.begin(record)
    if prior is not None and prior.outcome is not None:
        return _recorded(prior.outcome)
    if prior is not None and prior.handed_over and not connector.resend_safe:
        return await _lost(core, record, LOST)
    handing_over = _HandOver(core.records, record)
    try:
        outcome = await connector.apply(action.fields, key, handing_over)
    except ConnectorError as err:
        return await _failed(core, connector, action.kind, handing_over, err)
    await core.records.finish(record, outcome)
    return Attempt(_S.APPLIED, outcome)


async def _failed(core: Core, connector: Connector, kind: str, handing_over: _HandOver, err: ConnectorError) -> Attempt:
    """What a connector's error means: permanent fails the action; can't-tell after the hand-over leaves it
    uncertain unless it may be re-sent; anything else delivered nothing, so the record goes and the job retries."""
    record = handing_over.key
    said = masked(str(err))  # a connector's error may quote a configured URL
    if isinstance(err, PermanentConnectorError):
        await core.records.finish(record, f"{FAILED_PREFIX}{said}")
        return Attempt(_S.FAILED, said)
    transient = isinstance(err, TransientConnectorError)
    if not transient and handing_over.done and not connector.resend_safe:
        return await _lost(core, record, said)
    await core.records.forget(record)
    if isinstance(err, CircuitOpen) and err.just_opened:
        await core.say(core.config.notices, Kind.ERROR, f"{kind} paused: {err}")
    if transient:
        raise err
    why = "it may be sent again" if handing_over.done else "nothing was handed over yet"
    raise TransientConnectorError(f"{err} ({why}; trying again)") from err


async def _lost(core: Core, record: str, why: str) -> Attempt:
    """Handed over, then nothing heard: recorded as such, so every later look at it says the same."""
    await core.records.finish(record, f"{UNCERTAIN_PREFIX}{why}")
    return Attempt(_S.UNCERTAIN, why)


def _recorded(recorded: str) -> Attempt:
    for prefix, status in ((FAILED_PREFIX, _S.FAILED), (UNCERTAIN_PREFIX, _S.UNCERTAIN)):
        if recorded.startswith(prefix):
            return Attempt(status, recorded.removeprefix(prefix))
    return Attempt(_S.APPLIED, recorded)


# ---- where the proposal stands --------------------------------------------------------------------------


async def settle(core: Core, task: Task, proposal: Proposal, events: list[Event]) -> Outcome | None:
    """Commit where the actions leave the task, with their events, and show it."""
    event, message = standing(core, task, proposal)
    await core.store.commit([task, proposal], [*events, event])
    known = {
        e.action_index: e.detail["records"] for e in events if "records" in e.detail and e.action_index is not None
    }
    await link_applied(core, proposal, known)
    await core.show(task, message)
    done = task.status is TaskStatus.DONE
    if proposal.parent:  # made of another card's offer: that card shows what became of it
        return Outcome(then=(cmd.OfferDone(proposal.id),))
    return Outcome(then=(cmd.ResumePaused(),)) if proposal.playbook == BUDGET_PLAYBOOK and done else None


def standing(core: Core, task: Task, proposal: Proposal) -> tuple[Event, Outbound]:
    """Move the task to where its actions leave it — done, failed, or waiting for the operator's word — and
    the message that says so, answering the operator's last word on it, else the decision."""
    event, text, kind = _standing(core, task, proposal)
    d = proposal.decision
    reply_to = proposal.answer_to or (d.event_id if d else "") or None
    return event, Outbound(kind=kind, text=text, proposal=proposal, task_id=task.id, reply_to=reply_to, final=True)


def _standing(core: Core, task: Task, proposal: Proposal) -> tuple[Event, str, Kind]:
    now, tail, actions = core.now(), _tail(proposal), proposal.actions
    unsure = next((a for a in actions if a.status is _S.UNCERTAIN), None)
    if unsure is not None:
        event = task.await_operator(f"may not have been sent: {unsure.summary}", now)
        advice = f"{unsure.outcome}. Check whether it arrived, then Send again or Mark as sent."
        return event, _with_fates(f"May not have been sent: {unsure.summary}", tail, proposal, advice), Kind.ERROR
    outcomes = "; ".join(a.outcome for a in actions)
    failed = [a for a in actions if a.status is _S.FAILED]
    if failed:
        event = task.fail(f"{len(failed)} of {len(actions)} actions failed: {outcomes}", now)
        advice = retry_advice(proposal.id)
        if len(actions) == 1:
            return event, f"Failed: {outcomes}{tail}\n{advice}", Kind.ERROR
        headline = f"Failed: {len(failed)} of {len(actions)} actions failed"
        return event, _with_fates(headline, tail, proposal, advice), Kind.ERROR
    return task.finish(now, outcomes), f"Done: {outcomes}{tail}", Kind.OUTCOME


def retry_advice(proposal_id: str) -> str:
    """What comes next after a failure, and the word to type: the same sentence on every channel."""
    return f"Deputy won't try again on its own; type /retry {proposal_id} to try again."


def _tail(proposal: Proposal) -> str:
    d = proposal.decision
    by = f" · approved by {d.actor.label_for(proposal.chat.platform)} {d.at:%H:%M}" if d else ""
    return f"{by} · {money(proposal.cost_spent_usd)}"


def _with_fates(headline: str, tail: str, proposal: Proposal, advice: str = "") -> str:
    """One line per action, in words, for a proposal of several; a single action's headline says it all."""
    fates = [fate(a) for a in proposal.actions] if len(proposal.actions) > 1 else []
    return "\n".join(line for line in [f"{headline}{tail}", *fates, advice] if line)


def fate(action: StagedAction) -> str:
    """What became of one action: ✓ applied, ✗ failed, – not run, ⚠ may not have been sent, … waiting."""
    if action.status is _S.APPLIED:
        return f"✓ {action.outcome}"
    if action.status is _S.FAILED:
        return f"✗ {action.outcome}"
    if action.status is _S.NOT_RUN:
        return f"– not run: {action.summary}"
    if action.status is _S.UNCERTAIN:
        return f"⚠ may not have been sent: {action.summary}"
    return f"… waits for your word on the one above: {action.summary}"
