"""Requests for later, the agent's side: the `later` and `remind` playbooks put the local time in the prompt (and
only they do), the offline model reads "in 3 days", "tomorrow at 9", "in 1 minute" against it, and the card says
when, in the operator's time zone, and what will be drafted or said then."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from agents import prompts
from agents.runner import Local, PlaybookRunner
from bot.wiring import Runtime, build_runtime
from orchestrator.errors import BadRequest
from orchestrator.model import ProposalDraft, Reply
from tests.agents.test_offline import task
from tests.conftest import settings_from

WARSAW = ZoneInfo("Europe/Warsaw")
NOW = datetime(2026, 12, 1, 8, 12, 40, tzinfo=WARSAW)  # a Tuesday


@pytest.fixture
async def warsaw(env: dict[str, str]) -> AsyncIterator[Runtime]:
    runtime = build_runtime(settings_from({**env, "DEPUTY_TIMEZONE": "Europe/Warsaw"}))
    assert isinstance(runtime.drafter, PlaybookRunner)
    runtime.drafter.local = Local(lambda: NOW, "Europe/Warsaw")
    runtime.connectors["task.later"].inner.now = lambda: NOW  # type: ignore[attr-defined]  # behind its breaker
    yield runtime
    await runtime.close()


async def drafted(runtime: Runtime, text: str) -> tuple[dict[str, object], str]:
    draft = await runtime.drafter.draft(task(text))
    assert isinstance(draft, ProposalDraft), draft
    [(kind, fields)] = draft.actions
    staged = runtime.coordinator.core.stage(kind, fields)
    return staged.fields, staged.summary


@pytest.mark.parametrize(
    ("text", "at", "what", "remind"),
    [
        (
            "follow up with piotr@northwind.example in 3 days about the contract",
            "2026-12-04T08:12:40+01:00",
            "email piotr@northwind.example a follow-up about the contract",
            False,
        ),
        ("remind me tomorrow at 9 to call Anna", "2026-12-02T09:00:00+01:00", "call Anna", True),
        ("remind me in 1 minute to stretch", "2026-12-01T08:13:40+01:00", "stretch", True),
        ("remind me at 7pm to water the plants", "2026-12-01T19:00:00+01:00", "water the plants", True),
    ],
)
async def test_the_offline_model_reads_when_and_what(
    warsaw: Runtime, text: str, at: str, what: str, remind: bool
) -> None:
    fields, _ = await drafted(warsaw, text)
    assert fields == {"at": at, "request": what, "remind": remind}


async def test_the_card_says_when_in_the_operators_zone_and_what_it_will_do(warsaw: Runtime) -> None:
    _, summary = await drafted(warsaw, "follow up with piotr@northwind.example in 3 days about the contract")
    assert (
        summary
        == "On Fri 4 Dec 08:12 (Europe/Warsaw) I'll draft: email piotr@northwind.example a follow-up about the contract"
    )
    _, reminder = await drafted(warsaw, "remind me tomorrow at 9 to call Anna")
    assert reminder == "On Wed 2 Dec 09:00 (Europe/Warsaw) I'll remind you: call Anna"


async def test_without_a_time_it_asks_when(warsaw: Runtime) -> None:
    draft = await warsaw.drafter.draft(task("remind me to call Anna"))
    assert isinstance(draft, Reply) and "When should I do it?" in draft.text


def test_only_playbooks_with_a_clock_get_the_time_in_their_prompt(warsaw: Runtime) -> None:
    assert isinstance(warsaw.drafter, PlaybookRunner)
    books, now = warsaw.drafter.playbooks, warsaw.drafter.local.text()
    assert now == "2026-12-01T08:12:40+01:00 (Tuesday, Europe/Warsaw)"
    assert f"\nNow: {now}\n" in prompts.draft(books["later"], "x", "", "", now)[0]["content"]
    assert "Now:" not in prompts.draft(books["email"], "x", "", "", now)[0]["content"]  # its prompt stays cacheable


@pytest.mark.parametrize(
    ("at", "refusal"),
    [("2020-01-01T09:00", "has passed"), ("next tuesday", "is not a time"), ("2099-01-01T09:00", "a year ahead")],
)
def test_the_connector_refuses_a_time_it_cant_keep(warsaw: Runtime, at: str, refusal: str) -> None:
    with pytest.raises(BadRequest, match=refusal):
        warsaw.coordinator.core.stage("task.later", {"at": at, "request": "call Anna"})


def test_a_follow_up_card_writes_its_time_one_way() -> None:
    from datetime import UTC, datetime

    from agents.offline import _day
    from connectors.later import when

    at = datetime(2026, 12, 9, 12, 9, tzinfo=UTC)
    assert _day(at) == "Wed 9 Dec 12:09" and when(at, "UTC").startswith(_day(at))


@pytest.mark.parametrize(
    ("typed", "at"),
    [
        ("12:25", "2026-12-04T12:25:00+01:00"),  # a time alone keeps the day it is set for
        ("Sat 5 Dec 12:25", "2026-12-05T12:25:00+01:00"),  # the card's own way of writing it
        ("5 Dec", "2026-12-05T09:00:00+01:00"),  # a day alone keeps its time
        ("tomorrow 3pm", "2026-12-02T15:00:00+01:00"),
        ("2026-12-04T10:00", "2026-12-04T10:00:00+01:00"),
    ],
)
def test_edit_reads_a_plain_time_in_the_operators_zone(warsaw: Runtime, typed: str, at: str) -> None:
    """Issue 29 (#19): `/edit <id> at 12:25` needs no ISO; the running connector (behind its breaker) amends."""
    connector = warsaw.coordinator.core.connectors["task.later"]
    fields = {"request": "call Anna", "at": "2026-12-04T09:00:00+01:00", "remind": True}
    amended = connector.amend(fields, {"at": typed})  # type: ignore[attr-defined]
    assert amended["at"] == at
    staged = warsaw.coordinator.core.stage("task.later", {**fields, **amended})
    assert staged.summary.startswith("On ") and "(Europe/Warsaw)" in staged.summary and "T" not in staged.summary


def test_a_new_time_is_written_the_same_way_in_the_headline_and_the_action_line() -> None:
    """Issue 29 (#19): after `/edit … at 12:25` or `/revise … at 12:30` the card's two lines name the same time."""
    from agents.rewrites import revise
    from orchestrator.actions import StagedAction
    from orchestrator.proposals import retitled

    def later(at: str, shown: str) -> StagedAction:
        fields = {"request": "email frank@example.com", "at": at, "remind": False}
        return StagedAction("task.later", fields, f"On {shown} (UTC) I'll draft: email frank@example.com", "this chat")

    old = later("2026-12-09T12:09:00+00:00", "Wed 9 Dec 12:09")
    new = later("2026-12-10T12:25:00+00:00", "Thu 10 Dec 12:25")
    headline = "Follow up Wed 9 Dec 12:09: email frank@example.com"
    assert retitled(headline, old, new, alone=True) == "Follow up Thu 10 Dec 12:25: email frank@example.com"
    draft = {"summary": headline, "fields": dict(old.fields)}
    revised = revise(draft, "at 12:30")
    assert revised["fields"]["at"] == "2026-12-09T12:30:00+00:00"
    assert revised["summary"] == "Follow up Wed 9 Dec 12:30: email frank@example.com"
