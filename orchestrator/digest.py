"""The daily digest's words, from facts gathered elsewhere. Pure, so every line is testable: at most 15
lines, and nothing but "Quiet day" when there is nothing to say."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta

from orchestrator import events as ev
from orchestrator import inbox_views
from orchestrator.kinds import Traits, outward
from orchestrator.model import Proposal
from orchestrator.stats import Stats, saved_text
from orchestrator.text import one_line
from orchestrator.words import memory_ask

MAX_LINES = 15
LINE_CHARS = 110
"""A listed item, at most: one line on a phone in landscape, two upright."""
SPARK = "▁▂▃▄▅▆▇█"


@dataclass(frozen=True)
class DigestFacts:
    day: date
    events: list[ev.Event]
    pending: list[Proposal]
    spend_today: float
    budget: float
    week: list[float]
    late_by: timedelta | None = None
    outcomes: Stats | None = None
    """The last seven days' proposals: the digest's "This week" line."""
    unsure: list[str] = field(default_factory=list)
    """Emails that may not have been sent, waiting for the operator's word (with the words to give it)."""
    kinds: dict[str, Traits] = field(default_factory=dict)
    """The installed connectors' traits: which kinds left Deputy, and how the rest are counted."""
    clients: list[str] = field(default_factory=list)
    """The week's busiest clients: "Acme Corp: 4 email.send"."""
    today: list[str] = field(default_factory=list)
    """The day's calendar events, one line each (orchestrator/agenda.py), first under the header."""


def sparkline(values: list[float]) -> str:
    top = max(values, default=0.0)
    if top <= 0:
        return SPARK[0] * len(values)
    return "".join(SPARK[min(len(SPARK) - 1, round(v / top * (len(SPARK) - 1)))] for v in values)


def compose(facts: DigestFacts) -> str:
    """What the operator wants to know first: what left Deputy (emails, webhooks), then what waits for them,
    then what truly failed and what they stopped; saved notes, answers and memory commands are only counted."""
    header = f"Digest for {facts.day:%a %d %b}"
    if facts.late_by is not None:
        header += f" (late by {_duration(facts.late_by)}: Deputy was not running at digest time)"
    day = _Day.of(facts.events, facts.kinds)
    calendar = _list(f"On the calendar today ({len(facts.today)}):", facts.today, 4)
    inbox = inbox_views.digest_lines(facts.events, facts.pending)
    if not (day.outward or day.quiet_work or day.failed or day.stopped or facts.pending or facts.unsure or inbox):
        return "\n".join([header, *calendar, "Quiet day: nothing done, nothing waiting, nothing failed."])
    lines = [header, *calendar, *_list(day.done_title(), day.outward, 4)]
    others = [p for p in facts.pending if p.playbook != inbox_views.PLAYBOOK]  # the Inbox section lists replies
    lines += _list(f"Waiting for you ({len(others)}):", [_waiting(p) for p in others], 3)
    lines += inbox
    lines += _list(f"May not have been sent ({len(facts.unsure)}):", facts.unsure, 2)
    lines += _list(f"Failed, needs attention ({len(day.failed)}):", day.failed, 2)
    lines += [day.stopped_line()] if day.stopped else []
    spark = sparkline(facts.week)
    tail = [f"Spend: ${facts.spend_today:.2f} of ${facts.budget:.2f} today · 7 days {spark} ${sum(facts.week):.2f}"]
    if facts.outcomes and facts.outcomes.totals.proposed:
        tail.insert(0, week_line(facts.outcomes))
    if facts.clients:
        tail.insert(0, "By client this week: " + " · ".join(facts.clients))
    return "\n".join(lines[: MAX_LINES - len(tail)] + tail)  # the week and the spend always show


STOPPED = ev.ProposalRejected | ev.ProposalUndone


@dataclass(frozen=True)
class _Day:
    outward: list[str]
    kept: list[str]
    """What stayed inside Deputy, counted per kind in its own words: "3 notes saved"."""
    answered: int
    memory: int
    failed: list[str]
    stopped: list[str]

    @property
    def quiet_work(self) -> int:
        return len(self.kept) + self.answered + self.memory

    @classmethod
    def of(cls, events: list[ev.Event], kinds: Mapping[str, Traits]) -> _Day:
        asked = {e.task_id: e.summary for e in events if isinstance(e, ev.TaskSubmitted)}
        memory = {t for t, text in asked.items() if memory_ask(text) is not None}  # the ledger keeps the words
        approvers = _approvers(events)
        applied = [e for e in events if isinstance(e, ev.ActionApplied)]
        return cls(
            outward=[_outward(e, approvers) for e in applied if outward(kinds, _kind(e))],
            kept=_kept([_kind(e) for e in applied if not outward(kinds, _kind(e))], kinds),
            answered=sum(isinstance(e, ev.TaskReplied) and e.task_id not in memory for e in events),
            memory=len(memory),
            failed=[f"✗ {e.task_id}: {e.summary}" for e in _still_failed(events) if e.task_id not in memory],
            stopped=[
                f"{e.proposal_id} {_verb(e)}" for e in events if isinstance(e, ev.ProposalRejected | ev.ProposalUndone)
            ],
        )

    def done_title(self) -> str:
        counted = [*self.kept]
        counted += [f"{self.answered} answered"] if self.answered else []
        counted += [f"{self.memory} memory command{'s' if self.memory != 1 else ''}"] if self.memory else []
        n = len(self.outward)
        return f"Done ({', '.join([f'{n} sent' if n else 'nothing sent', *counted])}):"

    def stopped_line(self) -> str:
        shown = " · ".join(self.stopped[:4]) + (
            f" · …and {len(self.stopped) - 4} more" if len(self.stopped) > 4 else ""
        )
        return f"Stopped ({len(self.stopped)}): {shown}"


def _kind(event: ev.Event) -> str:
    return str(event.detail.get("kind", ""))


def _kept(applied: list[str], kinds: Mapping[str, Traits]) -> list[str]:
    """Counts in each kind's words, most first; a kind no connector declares any more is an action done."""
    named = Counter(kinds.get(kind) or Traits(kind) for kind in applied)
    return [traits.counted(n) for traits, n in named.most_common()]


def _outward(event: ev.Event, approvers: dict[str, str]) -> str:
    by = f" · approved by {approvers[event.task_id]}" if event.task_id in approvers else ""
    return f"✓ {event.summary}{by}"


def _verb(event: ev.Event) -> str:
    return "rejected" if isinstance(event, ev.ProposalRejected) else "undone"


def week_line(outcomes: Stats) -> str:
    """ "This week: 19 approved as drafted, 3 changed, 1 stopped · ~2 h saved · $0.41" (stopped: rejected or
    undone). "Approved", not "sent": notes and reminders count too."""
    t = outcomes.totals
    drafted, changed = t.outcomes["approved_as_drafted"], t.outcomes["approved_after_change"]
    return (
        f"This week: {drafted} approved as drafted, {changed} changed, {t.stopped} stopped"
        f" · {saved_text(t.minutes_saved)} saved · ${outcomes.cost_usd:.2f}"
    )


def _list(title: str, items: Sequence[str], most: int) -> list[str]:
    """A title and the first `most` items; a title alone says what it counts (Done with nothing sent)."""
    if not items:
        return [title] if title.startswith("Done (") and "nothing sent, " in title else []
    shown = [f"  {one_line(item, LINE_CHARS)}" for item in items[:most]]
    more = [f"  …and {len(items) - most} more"] if len(items) > most else []
    return [title, *shown, *more]


def _waiting(proposal: Proposal) -> str:
    """The headline only: the notes under it (citations, the verifier's doubt) belong on the card."""
    return f"{proposal.id} · {proposal.summary.splitlines()[0] if proposal.summary else ''} · risk {proposal.risk}"


def _approvers(events: list[ev.Event]) -> dict[str, str]:
    return {
        e.task_id: str(e.detail.get("by") or e.actor)
        for e in events
        if isinstance(e, ev.ProposalApproved) and (e.actor or e.detail.get("by"))
    }


def _still_failed(events: list[ev.Event]) -> list[ev.Event]:
    finished = {e.task_id for e in events if isinstance(e, ev.TaskDone)}
    failed = [e for e in events if isinstance(e, ev.TaskFailed) and e.task_id not in finished]
    return [e for e in failed if not e.detail.get("told")]  # an input error was answered at once


def _duration(delta: timedelta) -> str:
    minutes = int(delta.total_seconds() // 60)
    return f"{minutes // 60} h {minutes % 60:02d} min" if minutes >= 60 else f"{minutes} min"
