"""Outcome figures — what became of Deputy's proposals and what that saved — folded from the ledger. Pure: events
in, figures out, so `deputy stats`, /stats, the digest's line and /metrics show the same numbers.

Each proposal staged in the window has one outcome: approved as drafted, approved after a change (an /edit or a
revise), rejected, undone, expired, failed (an action of it failed), or pending; so the outcomes add up to what
was proposed. A proposal counts once in the totals and under its playbook, and once per action under each action
kind (an onboarding with an email and a note counts under both). Minutes saved are counted per applied action
(`Policies.minutes`, half when the proposal was changed first); "caught" means rejected, revised or doubted by
the verifier. Events of proposals staged before the window, and event types this fold doesn't know, count as
nothing."""

from __future__ import annotations

import re
import statistics
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from orchestrator.errors import BadRequest
from orchestrator.events import Event
from orchestrator.ports import Ledger

OUTCOMES = ("approved_as_drafted", "approved_after_change", "rejected", "undone", "expired", "failed", "pending")
POLICY = "policy:"
"""Auto-approvals are decided by an actor `policy:<rule>`; they take no one's time, so no decision time."""
VERIFIER = "⚠ Verifier:"
"""How a doubted draft's summary says so: the flag of proposals staged before `flagged` was recorded."""
BATCH = 500
DEFAULT_WINDOW = timedelta(days=7)


@dataclass
class _Proposal:
    """One proposal as the ledger tells it."""

    kinds: list[str]
    playbook: str
    staged_at: datetime
    flagged: bool
    changed: bool = False
    revised: bool = False
    ended: str = ""
    rule: str = ""
    decided_s: float | None = None
    applied: set[int] = field(default_factory=set)
    failed: set[int] = field(default_factory=set)
    task_failed: bool = False

    @property
    def caught(self) -> bool:
        return self.ended == "rejected" or self.revised or self.flagged

    def outcome(self, index: int) -> str:
        """The outcome of one action: the proposal's, unless the action failed after approval."""
        if self.ended in ("rejected", "undone", "expired"):
            return self.ended
        if index in self.failed or (self.task_failed and index not in self.applied):
            return "failed"
        if self.ended == "approved":
            return "approved_after_change" if self.changed else "approved_as_drafted"
        return "pending"

    def overall(self) -> str:
        outcomes = [self.outcome(i) for i in range(len(self.kinds))] or [self.outcome(-1)]
        return "failed" if "failed" in outcomes else outcomes[0]

    def minutes(self, index: int, per_kind: Mapping[str, float]) -> float:
        if index not in self.applied:
            return 0.0
        saved = per_kind.get(self.kinds[index], per_kind.get("default", 0.0))
        return saved / 2 if self.changed else saved


@dataclass
class Figures:
    """The figures of one group of proposals (a kind, a playbook, or all)."""

    proposed: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)
    caught: int = 0
    minutes_saved: float = 0.0
    auto_approved: Counter[str] = field(default_factory=Counter)
    """Proposals approved by a policy rule, by the rule's name."""
    decisions_s: list[float] = field(default_factory=list)
    """Seconds from the card to a person's decision (approve or reject)."""

    def count(self, proposal: _Proposal, outcome: str, minutes: float) -> None:
        self.proposed += 1
        self.outcomes[outcome] += 1
        self.caught += proposal.caught
        self.minutes_saved += minutes
        if proposal.rule:
            self.auto_approved[proposal.rule] += 1
        if proposal.decided_s is not None:
            self.decisions_s.append(proposal.decided_s)

    @property
    def median_decision_s(self) -> float | None:
        return statistics.median(self.decisions_s) if self.decisions_s else None

    @property
    def stopped(self) -> int:
        """Rejected or undone: the operator kept it from happening."""
        return self.outcomes["rejected"] + self.outcomes["undone"]

    def as_json(self) -> dict[str, Any]:
        median = self.median_decision_s
        return {
            "proposed": self.proposed,
            **{outcome: self.outcomes[outcome] for outcome in OUTCOMES},
            "caught": self.caught,
            "minutes_saved": round(self.minutes_saved, 2),
            "median_decision_s": None if median is None else round(median, 1),
            "auto_approved": dict(sorted(self.auto_approved.items())),
        }


@dataclass(frozen=True)
class Stats:
    since: datetime | None
    totals: Figures
    kinds: dict[str, Figures]
    playbooks: dict[str, Figures]
    answered: int = 0
    """Requests answered with a reply and no action."""
    cost_usd: float = 0.0
    """Every model call in the window, shadow runs included."""
    shadow_usd: float = 0.0
    clients: dict[str, dict[str, int]] = field(default_factory=dict)
    """Applied actions per client or project record (by id) and kind: "c1: 4 email.send"."""

    def as_json(self) -> dict[str, Any]:
        return {
            "since": self.since.isoformat() if self.since else None,
            "clients": {record: dict(sorted(kinds.items())) for record, kinds in sorted(self.clients.items())},
            "kinds": {kind: f.as_json() for kind, f in sorted(self.kinds.items())},
            "playbooks": {name: f.as_json() for name, f in sorted(self.playbooks.items())},
            "totals": self.totals.as_json(),
            "answered": self.answered,
            "cost_usd": round(self.cost_usd, 6),
            "shadow_cost_usd": round(self.shadow_usd, 6),
        }


class Tally:
    """The fold, kept open: `add` events in ledger order, ask for `stats` whenever. /metrics keeps one across
    scrapes and adds only what was appended since the last."""

    def __init__(self) -> None:
        self.proposals: dict[str, _Proposal] = {}
        self.answered = 0
        self.cost_usd = self.shadow_usd = 0.0
        self.clients: dict[str, Counter[str]] = {}

    def add(self, event: Event) -> None:
        step = _STEPS.get(event.type)
        if step is not None:
            step(self, event)

    def add_all(self, events: Iterable[Event]) -> Tally:
        for event in events:
            self.add(event)
        return self

    def of(self, event: Event) -> _Proposal | None:
        return self.proposals.get(event.proposal_id or "")

    def stats(self, minutes: Mapping[str, float], since: datetime | None = None) -> Stats:
        totals, kinds, playbooks = Figures(), dict[str, Figures](), dict[str, Figures]()
        for p in self.proposals.values():
            saved = [p.minutes(i, minutes) for i in range(len(p.kinds))]
            totals.count(p, p.overall(), sum(saved))
            playbooks.setdefault(p.playbook, Figures()).count(p, p.overall(), sum(saved))
            for index, kind in enumerate(p.kinds):
                kinds.setdefault(kind, Figures()).count(p, p.outcome(index), saved[index])
        clients = {r: dict(kinds) for r, kinds in self.clients.items()}
        return Stats(since, totals, kinds, playbooks, self.answered, self.cost_usd, self.shadow_usd, clients)


def _staged(tally: Tally, e: Event) -> None:
    if e.proposal_id and e.proposal_id not in tally.proposals:
        tally.proposals[e.proposal_id] = _Proposal(
            kinds=[str(kind) for kind in e.detail.get("actions", [])],
            playbook=str(e.detail.get("playbook") or "unknown"),
            staged_at=e.at,
            flagged=bool(e.detail.get("flagged")) or VERIFIER in e.summary,
        )


def _decided(tally: Tally, e: Event) -> None:
    if (p := tally.of(e)) is None:
        return
    p.ended = "approved" if e.type == "ProposalApproved" else "rejected"
    actor = e.actor or ""
    if actor.startswith(POLICY):
        p.rule = actor.removeprefix(POLICY)
    else:
        p.decided_s = max(0.0, (e.at - p.staged_at).total_seconds())


def _ended(tally: Tally, e: Event) -> None:
    if (p := tally.of(e)) is not None:
        p.ended = "undone" if e.type == "ProposalUndone" else "expired"


def _changed(tally: Tally, e: Event) -> None:
    if (p := tally.of(e)) is not None:
        p.changed = True
        p.revised = p.revised or e.type == "ProposalRevised"


def _action(tally: Tally, e: Event) -> None:
    if (p := tally.of(e)) is None or e.action_index is None:
        return
    if e.type == "ActionApplied":
        p.applied.add(e.action_index)
        p.failed.discard(e.action_index)  # a retried action that went through
        for record in e.detail.get("records", []):
            tally.clients.setdefault(str(record), Counter())[str(e.detail.get("kind", ""))] += 1
    else:
        p.failed.add(e.action_index)


def _task_ended(tally: Tally, e: Event) -> None:
    if (p := tally.of(e)) is not None:
        p.task_failed = e.type == "TaskFailed"


def _replied(tally: Tally, e: Event) -> None:
    tally.answered += 1


def _model(tally: Tally, e: Event) -> None:
    tally.cost_usd += e.cost_usd
    if e.detail.get("shadow"):
        tally.shadow_usd += e.cost_usd


_STEPS: dict[str, Callable[[Tally, Event], None]] = {
    "ProposalStaged": _staged,
    "ProposalApproved": _decided,
    "ProposalRejected": _decided,
    "ProposalUndone": _ended,
    "ProposalExpired": _ended,
    "ProposalEdited": _changed,
    "ProposalRevised": _changed,  # the revise feature's event, when it exists: a change, and caught
    "ActionApplied": _action,
    "ActionFailed": _action,
    "TaskFailed": _task_ended,
    "TaskDone": _task_ended,
    "TaskReplied": _replied,
    "ModelCalled": _model,
}


async def collect(ledger: Ledger, minutes: Mapping[str, float], since: datetime | None = None) -> Stats:
    """The figures of the proposals staged since `since` (all, without it), read a batch at a time from where the
    window starts: linear in the events read, never the whole ledger for a week."""
    tally, after = Tally(), ledger.position(since) if since else "0"
    while batch := await ledger.read(after=after, count=BATCH):
        tally.add_all(event for _, event in batch)
        after = batch[-1][0]
    return tally.stats(minutes, since)


_AGE = re.compile(r"^(\d{1,4})\s*([hdw])$", re.I)
_UNIT = {"h": "hours", "d": "days", "w": "weeks"}


def window(arg: str) -> timedelta:
    """/stats's span: 7 days unless an age such as 24h, 30d or 4w is given."""
    if not arg.strip():
        return DEFAULT_WINDOW
    match = _AGE.match(arg.strip())
    if not match or int(match[1]) == 0:
        raise BadRequest(f"/stats {arg.strip()}: give an age like 24h, 7d, 30d or 4w (default 7d).")
    return timedelta(**{_UNIT[match[2].lower()]: int(match[1])})


def saved_text(minutes: float) -> str:
    """~45 min, ~2 h, ~12.5 h: what an operator reads at a glance."""
    if minutes < 60:
        return f"~{round(minutes)} min"
    return f"~{round(minutes / 60, 1):g} h"


def duration_text(seconds: float) -> str:
    if seconds < 60:
        return f"{round(seconds)} s"
    if seconds < 3600:
        return f"{round(seconds / 60, 1):g} min"
    if seconds < 2 * 86400:
        return f"{round(seconds / 3600, 1):g} h"
    return f"{round(seconds / 86400, 1):g} days"
