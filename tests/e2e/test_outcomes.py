"""The outcome figures of a scripted week committed to a real Redis by the real store, read back where an operator
reads them: `deputy stats` (JSON and the table), /stats in the console, the digest's line and /metrics. Every
surface shows the counts, minutes and median time worked out by hand in tests/orchestrator/week.py."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer

from bot.stats import run_stats
from bot.web import make_app
from bot.wiring import Runtime
from memory import keys
from memory.streams import range_after
from orchestrator import events as ev
from orchestrator.model import ChatRef
from tests.conftest import deputy, settings_from
from tests.e2e.helpers import converse
from tests.orchestrator.test_stats_views import WEEK_BLOCK
from tests.orchestrator.week import (
    EXPECTED_COST,
    EXPECTED_EMAIL,
    EXPECTED_TOTALS,
    NEW_EVENTS,
    replied,
    scripted_week,
    story,
)

WEEK_LINE = "This week: 6 approved as drafted, 2 changed, 2 stopped · ~34 min saved · $0.13"


@pytest.fixture
async def week(runtime: Runtime, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Runtime]:
    """The week committed story by story (records and events together, as the handlers commit them), with the
    revise and uncertain-send events known to the codec as they will be once those features land."""
    for name, cls in NEW_EVENTS.items():
        monkeypatch.setitem(ev.EVENT_TYPES, name, cls)
    start = datetime.now(UTC) - timedelta(days=6, hours=12)
    for s in scripted_week(start):
        await runtime.store.commit([s.task, s.proposal], s.events)
    task, events = replied(99, start)
    await runtime.store.commit([task], events)
    yield runtime


async def test_deputy_stats_json_has_the_expected_figures(
    week: Runtime, env: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert await run_stats(settings_from(env), since="7d", as_json=True) == 0
    figures = json.loads(capsys.readouterr().out)
    assert figures["totals"] == EXPECTED_TOTALS and figures["kinds"]["email.send"] == EXPECTED_EMAIL
    assert figures["kinds"]["note.save"]["auto_approved"] == {"notes-always": 2}
    assert figures["playbooks"]["webhook"]["failed"] == 1 and figures["answered"] == 1
    assert figures["cost_usd"] == pytest.approx(EXPECTED_COST)
    assert datetime.fromisoformat(figures["since"]) < datetime.now(UTC) - timedelta(days=6, hours=23)


async def test_deputy_stats_table_has_a_row_per_kind_and_playbook(
    week: Runtime, env: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert await run_stats(settings_from(env), since="30d", as_json=False) == 0
    lines = capsys.readouterr().out.splitlines()
    assert re.match(r"^Proposals since \d{4}-\d\d-\d\d \d\d:\d\d UTC: 13; 1 request\(s\) answered", lines[0])
    rows = {line.split()[0]: line.split()[1:] for line in lines[3:] if line.startswith("  ") or line.startswith("all")}
    # proposed, as drafted, changed, rejected, undone, expired, failed, waiting, caught, minutes, median
    assert rows["email.send"] == ["10", "4", "2", "1", "1", "1", "0", "1", "3", "30", "4.5", "min"]
    assert rows["webhook.post"] == ["1", "0", "0", "0", "0", "0", "1", "0", "0", "0", "15", "min"]
    assert rows["note"] == ["2", "2", "0", "0", "0", "0", "0", "0", "0", "4", "-"]
    assert rows["all"] == ["13", "6", "2", "1", "1", "1", "1", "1", "3", "34", "5", "min"]
    assert "Auto-approved: 2 by notes-always" in lines and "Model spend: $0.1300" in lines


async def test_stats_in_the_console_and_the_digests_line(week: Runtime) -> None:
    transcript = await converse(week, "/stats")
    for line in WEEK_BLOCK.splitlines():
        assert line in transcript, line
    await week.scheduler.post(ChatRef("console", "local"), datetime.now(UTC).date())
    entries = await range_after(week.redis, keys.console("local"), "0", count=1000)
    posted = [fields for _, fields in entries if fields["kind"] == "digest"]
    assert WEEK_LINE in posted[-1]["text"].splitlines()


async def test_metrics_carry_the_outcome_series(week: Runtime) -> None:
    async with TestClient(TestServer(make_app(week.redis))) as client:
        text = await (await client.get("/metrics")).text()
        for line in (
            'deputy_outcomes{kind="email.send",outcome="approved_as_drafted"} 4.0',
            'deputy_outcomes{kind="email.send",outcome="approved_after_change"} 2.0',
            'deputy_outcomes{kind="email.send",outcome="rejected"} 1.0',
            'deputy_outcomes{kind="email.send",outcome="undone"} 1.0',
            'deputy_outcomes{kind="email.send",outcome="expired"} 1.0',
            'deputy_outcomes{kind="email.send",outcome="pending"} 1.0',
            'deputy_outcomes{kind="webhook.post",outcome="failed"} 1.0',
            'deputy_playbook_outcomes{outcome="approved_as_drafted",playbook="note"} 2.0',
            'deputy_proposed_total{kind="email.send"} 10.0',
            'deputy_minutes_saved_total{kind="email.send"} 30.0',
            'deputy_minutes_saved_total{kind="note.save"} 4.0',
            'deputy_caught_total{kind="email.send"} 3.0',
            'deputy_auto_approved_total{rule="notes-always"} 2.0',
            'deputy_decision_median_seconds{kind="email.send"} 270.0',
            'deputy_decision_median_seconds{kind="all"} 300.0',
        ):
            assert line in text, line
        later = story(50, datetime.now(UTC))  # a new proposal: the next scrape folds only it
        await week.store.commit([later.task, later.proposal], later.events)
        text = await (await client.get("/metrics")).text()
        assert 'deputy_proposed_total{kind="email.send"} 11.0' in text
        assert 'deputy_outcomes{kind="email.send",outcome="pending"} 2.0' in text


async def test_metrics_start_over_on_an_emptied_ledger(week: Runtime) -> None:
    async with TestClient(TestServer(make_app(week.redis))) as client:
        assert 'deputy_proposed_total{kind="email.send"} 10.0' in await (await client.get("/metrics")).text()
        await week.redis.flushall()
        fresh = story(1, datetime.now(UTC))
        await week.store.commit([fresh.task, fresh.proposal], fresh.events)
        text = await (await client.get("/metrics")).text()
        assert 'deputy_proposed_total{kind="email.send"} 1.0' in text


def test_the_command_answers_json_and_refuses_bad_input_in_one_line(env: dict[str, str], tmp_path: Path) -> None:
    ok = deputy("stats", "--json", env=env, cwd=tmp_path)
    assert ok.returncode == 0 and json.loads(ok.stdout)["totals"]["proposed"] == 0, ok.stderr
    for args, extra, says in (
        (("stats", "--since", "last week"), {}, "--since 'last week'"),
        (("stats",), {"REDIS_URL": "redis://127.0.0.1:1/0"}, "Redis is unreachable"),
        (("stats",), {"REDIS_URL": "http://nowhere"}, "REDIS_URL"),
    ):
        bad = deputy(*args, env={**env, **extra}, cwd=tmp_path)
        assert bad.returncode == 2 and says in bad.stderr and bad.stderr.count("\n") == 1, bad.stderr
