"""Pending proposals are never forgotten: each is brought back after its kind's `remind_after_hours`, can be
snoozed, and at `expire_after_hours` is expired (`deny`), reminded again (`remind`) or left (`keep`).
Handlers run on fresh state, so two schedulers finding the same proposal due remind once."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from orchestrator import commands as cmd
from orchestrator import policies
from orchestrator.core import Core
from orchestrator.errors import AlreadyDecided, BadRequest
from orchestrator.model import Proposal, ProposalStatus
from orchestrator.outbound import Kind, Outbound

SNOOZES = ("1h", "tomorrow")


def schedule(proposal: Proposal, rules: policies.Policies) -> None:
    """At staging: when to remind, and when the expiry acts."""
    rule = policies.reminder_rule(proposal, rules)
    if rule.remind_after_hours is not None:
        proposal.remind_at = proposal.created_at + timedelta(hours=rule.remind_after_hours)
    if rule.expire_after_hours is not None:
        proposal.expires_at = proposal.created_at + timedelta(hours=rule.expire_after_hours)


def due(proposal: Proposal, now: datetime) -> bool:
    if proposal.status is not ProposalStatus.PENDING:
        return False
    return any(at is not None and now >= at for at in (proposal.remind_at, proposal.expires_at))


async def remind_due(c: cmd.RemindDue, core: Core) -> None:
    proposal = await core.store.get_proposal(c.proposal_id)
    now = core.now()
    if proposal is None or not due(proposal, now):
        return
    rule = policies.reminder_rule(proposal, core.config.policies)
    expired = proposal.expires_at is not None and now >= proposal.expires_at
    if expired and rule.at_expiry == "deny":
        await _expire(core, proposal, rule)
        return
    if expired:  # remind: again after as long once more; keep: no further expiry
        step = timedelta(hours=rule.expire_after_hours or 24)
        proposal.expires_at = now + step if rule.at_expiry == "remind" else None
    later = proposal.remind_at if proposal.remind_at and proposal.remind_at > now else None
    await _remind(core, proposal, next_at=later)


async def _remind(core: Core, proposal: Proposal, *, next_at: datetime | None) -> None:
    now = core.now()
    await core.store.commit([proposal], [proposal.remind(now, next_at)])
    text = f"Still waiting for your decision ({_hours(now - proposal.created_at)}): {proposal.summary}"
    message = Outbound(kind=Kind.REMINDER, text=text, proposal=proposal, task_id=proposal.task_id, final=True)
    await core.post(proposal.chat, message)


async def _expire(core: Core, proposal: Proposal, rule: policies.ReminderRule) -> None:
    task = await core.task(proposal.task_id)
    hours = _hours(timedelta(hours=rule.expire_after_hours or 0))
    reason = f"Expired: no decision within {hours} (policy: deny). Nothing was done."
    event = task.expire(proposal, core.now(), reason)
    await core.store.commit([proposal, task], [event])
    await core.show(task, Outbound(kind=Kind.OUTCOME, text=reason, proposal=proposal, task_id=task.id, final=True))


async def snooze(c: cmd.SnoozeProposal, core: Core) -> None:
    proposal = await core.proposal(c.proposal_id)
    policies.require_operator(c.actor, core.config.operators, "snooze proposals")
    if proposal.status is not ProposalStatus.PENDING:
        raise AlreadyDecided(f"Proposal {proposal.id} is {proposal.status.value}; there is nothing to snooze.")
    until = _until(core, c.until)
    await core.store.commit([proposal], [proposal.snooze(c.actor, until, core.now())])
    local = until.astimezone(ZoneInfo(core.config.timezone))
    text = f"Snoozed {proposal.id}: I'll remind you {local:%a %H:%M}."
    await core.say(c.chat, Kind.NOTICE, text, reply_to=c.event_id or None, final=True)


def _until(core: Core, word: str) -> datetime:
    now = core.now()
    if word == "1h":
        return now + timedelta(hours=1)
    if word != "tomorrow":
        raise BadRequest(f"Snooze for 1h or tomorrow, e.g. /snooze p1 tomorrow (not {word!r}).")
    zone = ZoneInfo(core.config.timezone)
    hour, minute = (int(part) for part in core.config.digest_at.split(":"))
    day = now.astimezone(zone).date() + timedelta(days=1)
    return datetime.combine(day, time(hour, minute), zone)


def _hours(delta: timedelta) -> str:
    hours = delta.total_seconds() / 3600
    return f"{hours:.0f} h" if hours >= 1 else f"{delta.total_seconds() / 60:.0f} min"
