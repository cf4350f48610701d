"""The daily digest's words, from facts gathered elsewhere. Pure, so every line is testable: at most 15
lines, and nothing but "Quiet day" when there is nothing to say."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta

from orchestrator import events as ev
from orchestrator.model import Proposal
from orchestrator.stats import Stats, saved_text

MAX_LINES = 15
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


def sparkline(values: list[float]) -> str:
    top = max(values, default=0.0)
    if top <= 0:
        return SPARK[0] * len(values)
    return "".join(SPARK[min(len(SPARK) - 1, round(v / top * (len(SPARK) - 1)))] for v in values)


def compose(facts: DigestFacts) -> str:
    header = f"Digest for {facts.day:%a %d %b}"
    if facts.late_by is not None:
        header += f" (late by {_duration(facts.late_by)}: Deputy was not running at digest time)"
    done = [e for e in facts.events if isinstance(e, ev.TaskDone)]
    answered = sum(isinstance(e, ev.TaskReplied) for e in facts.events)
    failed = _still_failed(facts.events)
    if not (done or answered or failed or facts.pending):
        return f"{header}\nQuiet day: nothing done, nothing waiting, nothing failed."
    lines = [header, *_done(done, answered, _approvers(facts.events))]
    lines += _list(f"Waiting for you ({len(facts.pending)}):", [_waiting(p) for p in facts.pending], 3)
    lines += _list(f"Failed, needs attention ({len(failed)}):", [f"✗ {e.task_id}: {e.summary}" for e in failed], 2)
    spark = sparkline(facts.week)
    tail = [f"Spend: ${facts.spend_today:.2f} of ${facts.budget:.2f} today · 7 days {spark} ${sum(facts.week):.2f}"]
    if facts.outcomes and facts.outcomes.totals.proposed:
        tail.insert(0, week_line(facts.outcomes))
    return "\n".join(lines[: MAX_LINES - len(tail)] + tail)  # the week and the spend always show


def week_line(outcomes: Stats) -> str:
    """ "This week: 19 sent as drafted, 3 changed, 1 stopped · ~2 h saved · $0.41" (stopped: rejected or undone)."""
    t = outcomes.totals
    drafted, changed = t.outcomes["approved_as_drafted"], t.outcomes["approved_after_change"]
    return (
        f"This week: {drafted} sent as drafted, {changed} changed, {t.stopped} stopped"
        f" · {saved_text(t.minutes_saved)} saved · ${outcomes.cost_usd:.2f}"
    )


def _done(done: Sequence[ev.Event], answered: int, approvers: dict[str, str]) -> list[str]:
    if not done and not answered:
        return []
    title = (
        f"Done ({len(done)} task{'s' if len(done) != 1 else ''}" + (f", {answered} answered" if answered else "") + "):"
    )
    items = [
        f"✓ {e.summary}" + (f" · approved by {approvers[e.task_id]}" if e.task_id in approvers else "") for e in done
    ]
    return _list(title, items, 3)


def _list(title: str, items: Sequence[str], most: int) -> list[str]:
    if not items:
        return []
    shown = [f"  {_clip(item)}" for item in items[:most]]
    more = [f"  …and {len(items) - most} more"] if len(items) > most else []
    return [title, *shown, *more]


def _waiting(proposal: Proposal) -> str:
    return f"{proposal.id} · {proposal.summary} · risk {proposal.risk}"


def _approvers(events: list[ev.Event]) -> dict[str, str]:
    return {
        e.task_id: str(e.detail.get("by") or e.actor)
        for e in events
        if isinstance(e, ev.ProposalApproved) and (e.actor or e.detail.get("by"))
    }


def _still_failed(events: list[ev.Event]) -> list[ev.Event]:
    finished = {e.task_id for e in events if isinstance(e, ev.TaskDone)}
    return [e for e in events if isinstance(e, ev.TaskFailed) and e.task_id not in finished]


def _clip(text: str, limit: int = 110) -> str:
    line = " ".join(text.split())
    return line if len(line) <= limit else line[: limit - 1] + "…"


def _duration(delta: timedelta) -> str:
    minutes = int(delta.total_seconds() // 60)
    return f"{minutes // 60} h {minutes % 60:02d} min" if minutes >= 60 else f"{minutes} min"
