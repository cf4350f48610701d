"""The outcome figures where the operator reads them, on in-memory fakes: /stats in chat (a short block, any
window) and the digest's "This week" line, from the same scripted week the fold's own tests use."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from orchestrator.commands import Inbound
from orchestrator.model import ChatRef
from orchestrator.outbound import Kind
from tests.orchestrator.conftest import BOSS, Core
from tests.orchestrator.test_schedule import DIGEST_CHAT, scheduler, sent
from tests.orchestrator.week import replied, scripted_week

START = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
WEEK_BLOCK = """Last 7 days: 13 proposals, 1 answered without an action
6 as drafted · 2 changed first · 1 rejected · 1 undone · 1 expired · 1 failed · 1 waiting
  email.send 10: 4 as drafted · 2 changed first · 1 rejected · 1 undone · 1 expired · 1 waiting
  note.save 2: 2 as drafted
  webhook.post 1: 1 failed
Auto-approved: 2 by notes-always
Caught: 3 (rejected, revised or doubted by the verifier)
Median time to decide: 5 min
Saved: ~34 min · model spend $0.1300"""


def a_week_later(core: Core) -> None:
    """The week in the ledger, and the clock half a day after its last story."""
    events = [e for s in scripted_week(START) for e in s.events] + replied(99, START)[1]
    core.store.ledger = sorted(events, key=lambda e: e.at)  # in the order they happened, as a ledger is
    core.coordinator.core.ledger = core.store  # as the composition root wires it
    core.clock.current = START + timedelta(days=6, hours=12)


def said(core: Core) -> list[str]:
    return [m.text for _, _, m in core.outbox.sent if m.kind in (Kind.NOTICE, Kind.ERROR)]


async def test_stats_in_chat_is_the_weeks_block(core: Core) -> None:
    a_week_later(core)
    await core.say("/stats")
    assert said(core)[-1] == WEEK_BLOCK
    await core.say("/stats 7d")
    assert said(core)[-1] == WEEK_BLOCK


async def test_a_shorter_window_counts_only_its_own_proposals(core: Core) -> None:
    a_week_later(core)
    await core.say("/stats 24h")  # the last day: story 12 (as drafted, doubted) and 13 (waiting)
    assert said(core)[-1].splitlines()[:2] == ["Last 24 h: 2 proposals", "1 as drafted · 1 waiting"]
    core.clock.current += timedelta(days=30)
    await core.say("/stats 2d")
    assert said(core)[-1] == "Nothing was proposed in the last 2 days. Model spend: $0.00."


async def test_a_bad_window_says_what_to_type(core: Core) -> None:
    a_week_later(core)
    await core.say("/stats last week")
    assert said(core)[-1] == "/stats last week: give an age like 24h, 7d, 30d or 4w (default 7d)."


async def test_the_digest_has_the_weeks_line(core: Core) -> None:
    a_week_later(core)
    await scheduler(core).post(DIGEST_CHAT, core.clock.current.date())
    [(chat, digest)] = sent(core, Kind.DIGEST)
    lines = digest.text.splitlines()
    assert lines[-2] == "This week: 6 approved as drafted, 2 changed, 2 stopped · ~34 min saved · $0.13"
    assert lines[-1].startswith("Spend: ") and len(lines) <= 15 and chat == DIGEST_CHAT


async def test_a_digest_without_proposals_this_week_has_no_such_line(core: Core) -> None:
    core.coordinator.core.ledger = core.store
    await core.say("what is the wifi password?")  # a task is running, nothing was proposed
    await scheduler(core).post(DIGEST_CHAT, datetime(2026, 11, 3).date())
    assert not any("This week" in m.text for _, m in sent(core, Kind.DIGEST))


async def test_stats_work_on_every_channel(core: Core) -> None:
    a_week_later(core)
    slack = ChatRef("slack", "D1")
    await core.coordinator.receive(Inbound(actor=BOSS, chat=slack, text="/stats", event_id="s1"))
    [(chat, _, message)] = [x for x in core.outbox.sent if x[0] == slack]
    assert chat == slack and message.text == WEEK_BLOCK
