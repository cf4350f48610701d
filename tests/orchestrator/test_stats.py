"""The outcome fold on in-memory events: a scripted week gives exactly the figures worked out by hand, per kind,
per playbook and in all; the window, unknown events and older ledgers are handled as the docstring says."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from orchestrator import events as ev
from orchestrator.errors import BadRequest
from orchestrator.fakes.stores import InMemoryStore
from orchestrator.model import Verdict
from orchestrator.stats import Tally, collect, duration_text, saved_text, window
from tests.orchestrator.conftest import MINUTES
from tests.orchestrator.week import (
    COST,
    EXPECTED_COST,
    EXPECTED_EMAIL,
    EXPECTED_TOTALS,
    Story,
    scripted_week,
    story,
)

START = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


def folded(stories: list[Story]) -> Tally:
    return Tally().add_all(e for s in stories for e in s.events)


def test_a_scripted_week_gives_the_figures_worked_out_by_hand() -> None:
    stats = folded(scripted_week(START)).stats(MINUTES).as_json()
    assert stats["totals"] == EXPECTED_TOTALS
    assert stats["kinds"]["email.send"] == EXPECTED_EMAIL
    note, webhook = stats["kinds"]["note.save"], stats["kinds"]["webhook.post"]
    assert (note["proposed"], note["approved_as_drafted"], note["minutes_saved"]) == (2, 2, 4.0)
    assert note["auto_approved"] == {"notes-always": 2} and note["median_decision_s"] is None
    assert (webhook["proposed"], webhook["failed"], webhook["minutes_saved"], webhook["median_decision_s"]) == (
        1,
        1,
        0.0,
        900.0,
    )
    assert sorted(stats["playbooks"]) == ["email", "note", "webhook"]
    assert stats["playbooks"]["email"]["proposed"] == 10
    assert stats["cost_usd"] == pytest.approx(EXPECTED_COST) and stats["shadow_cost_usd"] == 0


def test_the_outcomes_add_up_to_what_was_proposed() -> None:
    totals = folded(scripted_week(START)).stats(MINUTES).totals
    assert sum(totals.outcomes.values()) == totals.proposed


def test_minutes_follow_the_policy_file() -> None:
    stats = folded(scripted_week(START)).stats({"email.send": 10, "default": 1})
    assert stats.kinds["email.send"].minutes_saved == 4 * 10 + 2 * 5
    assert stats.kinds["note.save"].minutes_saved == 2  # not listed: the file's default, 1 each


def test_an_action_of_several_counts_under_its_own_kind() -> None:
    onboard = story(1, START, also=("note.save",)).decide(Verdict.APPROVE, 60).apply()  # the email reports back
    stats = Tally().add_all(onboard.events).stats(MINUTES)
    assert stats.totals.proposed == 1 and stats.kinds["email.send"].proposed == stats.kinds["note.save"].proposed == 1
    assert stats.kinds["email.send"].minutes_saved == 6 and stats.kinds["note.save"].minutes_saved == 0
    assert stats.kinds["note.save"].outcomes["approved_as_drafted"] == 1


async def test_only_proposals_staged_in_the_window_count() -> None:
    store = InMemoryStore()
    old = story(99, START - timedelta(days=8)).decide(Verdict.APPROVE, 8 * 86400 - 60)  # decided in the window
    store.ledger = old.events + [e for s in scripted_week(START) for e in s.events]
    stats = await collect(store, MINUTES, START - timedelta(minutes=1))
    assert stats.totals.proposed == 13 and stats.totals.outcomes["approved_as_drafted"] == 6
    assert stats.cost_usd == pytest.approx(EXPECTED_COST)  # the old task's model call was before the window
    everything = await collect(store, MINUTES)
    assert everything.totals.proposed == 14 and everything.cost_usd == pytest.approx(EXPECTED_COST + COST)


def test_a_ledger_from_before_flags_were_recorded_reads_the_verifiers_note() -> None:
    doubted = story(1, START, flagged=True)
    staged = doubted.events[-1]
    del staged.detail["flagged"], staged.detail["playbook"]
    stats = Tally().add_all(doubted.events).stats(MINUTES)
    assert stats.totals.caught == 1 and list(stats.playbooks) == ["unknown"]


def test_replies_and_shadow_spend_are_counted_apart() -> None:
    tally = Tally()
    tally.add(ev.TaskReplied(at=START, task_id="t1", task_status="done"))
    tally.add(ev.ModelCalled(at=START, task_id="t1", cost_usd=0.5, detail={"shadow": True}))
    tally.add(ev.ModelCalled(at=START, task_id="t1", cost_usd=0.25))
    stats = tally.stats(MINUTES)
    assert (stats.answered, stats.cost_usd, stats.shadow_usd, stats.totals.proposed) == (1, 0.75, 0.5, 0)
    assert stats.totals.median_decision_s is None and stats.as_json()["totals"]["median_decision_s"] is None


def test_the_window_and_the_words_for_time() -> None:
    assert window("") == timedelta(days=7) and window("30d") == timedelta(days=30) and window("24H") == timedelta(1)
    assert window("4w") == timedelta(weeks=4)
    for bad in ("yesterday", "0d", "7"):
        with pytest.raises(BadRequest, match="24h, 7d, 30d or 4w"):
            window(bad)
    assert [saved_text(m) for m in (34, 60, 123, 750)] == ["~34 min", "~1 h", "~2 h", "~12.5 h"]
    assert [duration_text(s) for s in (45, 270, 300, 5400, 3 * 86400)] == [
        "45 s",
        "4.5 min",
        "5 min",
        "1.5 h",
        "3 days",
    ]
