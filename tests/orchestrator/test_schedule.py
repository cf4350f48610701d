"""The scheduler on in-memory fakes with a controllable clock: digest content and timing, Approve all
low-risk, reminders, snooze and expiry, liveness alerts."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import UTC, datetime, time

import pytest

from orchestrator import commands as cmd
from orchestrator.buttons import APPROVE_LOW, SNOOZE, Click, Target
from orchestrator.fakes.books import FakeSpend, InMemoryDigestBook
from orchestrator.fakes.world import FakeLiveness
from orchestrator.model import ChatRef, ProposalStatus
from orchestrator.outbound import Kind, Outbound
from orchestrator.policies import Policies, ReminderRule
from orchestrator.schedule import ScheduleConfig, Scheduler
from tests.orchestrator.conftest import BOSS, Core
from tests.orchestrator.test_commits import NOTE, configure
from tests.orchestrator.test_coordinator import EMAIL, staged

DIGEST_CHAT, SLACK, TELEGRAM = ChatRef("slack", "C-ops"), ChatRef("slack", "D1"), ChatRef("telegram", "42")
CONSOLE_CHAT = ChatRef("console", "local")
RISKY = replace(EMAIL, risk="high", summary="Email the whole list")


def scheduler(core: Core, book: InMemoryDigestBook | None = None, **config: object) -> Scheduler:
    settings = ScheduleConfig(digest_chat=DIGEST_CHAT, digest_at=time(8, 0), **config)  # type: ignore[arg-type]
    book = book or InMemoryDigestBook()
    core.coordinator.core.digests = book  # one book, as the composition root wires it
    return Scheduler(core.coordinator, core.store, book, FakeSpend(), FakeLiveness(), settings)


def sent(core: Core, kind: Kind) -> list[tuple[ChatRef, Outbound]]:
    return [(chat, m) for chat, _, m in core.outbox.sent if m.kind is kind]


def at(core: Core, hour: int, minute: int = 0, day: int = 3) -> None:
    core.clock.current = datetime(2026, 11, day, hour, minute, tzinfo=UTC)


async def test_digest_says_what_was_done_waits_failed_and_spent(core: Core) -> None:
    done = await staged(core)
    await core.say(f"/approve {done}")
    await core.coordinator.handle(cmd.ApplyProposal(done))
    await staged(core)  # pending
    await core.say("email bob@acme.com about the launch")
    await core.coordinator.handle(cmd.FailTask(core.queue.runs[-1], "the model timed out"))
    s = scheduler(core)
    s.spend = FakeSpend({"2026-11-03": 0.4, "2026-11-01": 0.8})
    await s.post(DIGEST_CHAT, datetime(2026, 11, 3).date())
    [(chat, digest)] = sent(core, Kind.DIGEST)
    lines = digest.text.splitlines()
    assert chat == DIGEST_CHAT and len(lines) <= 15
    assert lines[0] == "Digest for Tue 03 Nov"
    assert "Done (1 sent):" in lines and any("Sent to jane@acme.com · approved by you" in x for x in lines)
    assert "Waiting for you (1):" in lines and "Failed, needs attention (1):" in lines
    assert any("the model timed out" in x for x in lines)
    assert lines[-1] == "Spend: $0.40 of $5.00 today · 7 days ▁▁▁▁█▁▅ $1.20"
    assert len(digest.proposals) == 1 and digest.ref  # its buttons, and Approve all low-risk


async def test_quiet_day(core: Core) -> None:
    await scheduler(core).post(DIGEST_CHAT, datetime(2026, 11, 3).date())
    [(_, digest)] = sent(core, Kind.DIGEST)
    assert digest.text == "Digest for Tue 03 Nov\nQuiet day: nothing done, nothing waiting, nothing failed."
    assert digest.ref == ""


async def test_two_schedulers_post_one_digest(core: Core) -> None:
    book = InMemoryDigestBook()
    at(core, 7, 0)
    first, second = scheduler(core, book), scheduler(core, book)
    await asyncio.gather(first.tick(), second.tick())
    assert sent(core, Kind.DIGEST) == []  # not yet 08:00
    at(core, 8, 0)
    await asyncio.gather(first.tick(), second.tick(), first.tick())
    assert len(sent(core, Kind.DIGEST)) == 1
    at(core, 8, 0, day=4)
    await asyncio.gather(first.tick(), second.tick())
    assert len(sent(core, Kind.DIGEST)) == 2  # the next day's, once


async def test_downtime_over_digest_time_gives_one_late_digest(core: Core) -> None:
    book = InMemoryDigestBook()
    at(core, 7, 30)
    await scheduler(core, book).tick()  # running before the digest time, then down
    at(core, 10, 30)
    restarted = scheduler(core, book)
    await restarted.tick()
    await restarted.tick()
    [(_, digest)] = sent(core, Kind.DIGEST)
    assert "late by 2 h 30 min" in digest.text.splitlines()[0]


async def test_first_start_after_digest_time_does_not_post_a_missed_one(core: Core) -> None:
    at(core, 10, 0)
    await scheduler(core).tick()
    assert sent(core, Kind.DIGEST) == []


async def test_approve_all_low_risk_applies_each_once_and_leaves_high_risk(core: Core) -> None:
    low = [await staged(core), await staged(core)]
    high = await staged(core, RISKY)
    s = scheduler(core)
    await s.post(DIGEST_CHAT, datetime(2026, 11, 3).date())
    [(_, digest)] = sent(core, Kind.DIGEST)
    answers: list[str] = []

    async def answer(text: str, refused: bool) -> None:
        answers.append(text)

    press = Click(BOSS, DIGEST_CHAT, APPROVE_LOW, Target(digest.ref), "press-1")
    await core.coordinator.approve_low(press, answer)
    await core.coordinator.approve_low(press, answer)  # the same press redelivered
    await core.coordinator.approve_low(replace(press, event_id="press-2"), answer)  # pressed again
    assert sorted(core.queue.applies) == sorted(low)
    proposal = await core.store.get_proposal(high)
    assert proposal and proposal.status is ProposalStatus.PENDING
    assert answers[0] == "Approved 2 low-risk proposals." and answers[-1].startswith("Approved 0")


async def test_reminder_after_hours_snooze_moves_it(core: Core) -> None:
    pid = await staged(core)
    s = scheduler(core)
    core.clock.advance(3 * 3600)
    await s.tick()
    assert sent(core, Kind.REMINDER) == []
    core.clock.advance(3600)
    await s.tick()
    await s.tick()
    [(chat, reminder)] = sent(core, Kind.REMINDER)
    assert reminder.proposal and reminder.proposal.id == pid and "4 h" in reminder.text
    answers: list[str] = []

    async def answer(text: str, refused: bool) -> None:
        answers.append(text)

    await core.coordinator.click(Click(BOSS, chat, SNOOZE, Target(pid), "snooze-1"), answer)
    core.clock.advance(59 * 60)
    await s.tick()
    assert len(sent(core, Kind.REMINDER)) == 1
    core.clock.advance(60)
    await s.tick()
    assert len(sent(core, Kind.REMINDER)) == 2
    assert any(e.type == "ProposalSnoozed" for e in core.store.ledger)


@pytest.mark.parametrize("at_expiry", ["deny", "keep"])
async def test_expiry_denies_or_keeps_as_the_policy_says(core: Core, at_expiry: str) -> None:
    rule = ReminderRule(remind_after_hours=4, expire_after_hours=48, at_expiry=at_expiry)
    core.coordinator.core.config = replace(
        core.coordinator.core.config, policies=Policies(reminders=(("email.send", rule),))
    )
    pid = await staged(core)
    s = scheduler(core)
    core.clock.advance(48 * 3600)
    await s.tick()
    await s.tick()
    proposal = await core.store.get_proposal(pid)
    assert proposal is not None
    if at_expiry == "keep":
        assert proposal.status is ProposalStatus.PENDING
        return
    assert proposal.status is ProposalStatus.EXPIRED
    assert [e.type for e in core.store.ledger].count("ProposalExpired") == 1
    assert "Expired: no decision within 48 h" in core.outbox.sent[-1][2].text
    await core.say(f"/approve {pid}", actor=BOSS)
    assert core.outbox.sent[-1][2].text == f"Proposal {pid} is expired. Nothing changed."
    assert core.queue.applies == []


async def test_failing_channel_alerts_once_elsewhere_and_once_on_recovery(core: Core) -> None:
    s = scheduler(core, platforms=("slack", "telegram"), alert_chats=(SLACK, TELEGRAM))
    live = s.liveness
    assert isinstance(live, FakeLiveness)
    for _ in range(3):
        await live.record("slack", False)
    await s.tick()
    await s.tick()
    alerts = [(c, m.text) for c, m in sent(core, Kind.ERROR)]
    assert alerts == [
        (TELEGRAM, "Deputy can't deliver to slack: the last 3 attempts failed.")
    ]  # no mark: the channel's
    await live.record("slack", True)
    await s.tick()
    await s.tick()
    assert [(c, m.text) for c, m in sent(core, Kind.NOTICE)] == [(TELEGRAM, "✅ Deliveries to slack work again.")]


async def test_redis_refusing_writes_is_said_once_elsewhere_than_the_console_and_once_when_it_works(core: Core) -> None:
    s = scheduler(core, alert_chats=(CONSOLE_CHAT, SLACK))
    assert isinstance(s.liveness, FakeLiveness)
    s.liveness.fault = "Redis is out of memory (maxmemory reached): raise maxmemory or free memory"
    s.liveness.alive = 0  # the other checks wait while Redis can't write: no worker alert on top
    for _ in range(3):
        await s.tick()
        core.clock.advance(61)
    [(chat, alert)] = sent(core, Kind.ERROR)
    assert chat == SLACK and alert.text.startswith("Redis can't take writes: Redis is out of memory")
    s.liveness.fault, s.liveness.alive = "", 1
    await s.tick()
    await s.tick()
    assert [(c, m.text) for c, m in sent(core, Kind.NOTICE)] == [
        (SLACK, "✅ Redis takes writes again; Deputy carries on.")
    ]


async def test_no_worker_for_a_minute_alerts_once(core: Core) -> None:
    s = scheduler(core, alert_chats=(SLACK,))
    assert isinstance(s.liveness, FakeLiveness)
    s.liveness.alive = 0
    await s.tick()
    core.clock.advance(59)
    await s.tick()
    assert sent(core, Kind.ERROR) == []
    core.clock.advance(2)
    await s.tick()
    await s.tick()
    assert len(sent(core, Kind.ERROR)) == 1 and "No Deputy worker" in sent(core, Kind.ERROR)[0][1].text
    s.liveness.alive = 1
    await s.tick()
    await s.tick()
    assert len(sent(core, Kind.NOTICE)) == 1


async def test_the_digest_leads_with_what_left_deputy_and_only_counts_the_rest(core: Core) -> None:
    configure(core)  # notes are auto-approved by the default rule
    for _ in range(3):
        note = await staged(core, NOTE)
        await core.coordinator.handle(cmd.ApplyProposal(note))
    for n in range(4):
        email = await staged(
            core, replace(EMAIL, actions=[("email.send", {**EMAIL.actions[0][1], "to": f"c{n}@acme.com"})])
        )
        await core.say(f"/approve {email}")
        await core.coordinator.handle(cmd.ApplyProposal(email))
    await core.say("/forget m9")  # a typo: its reply is no failure of Deputy's
    await core.coordinator.handle(cmd.FailTask(core.queue.runs[-1], "Nothing to forget with id m9"))
    await core.say(f"/reject {await staged(core)} not now")
    cited = replace(
        EMAIL, summary="Email jane@acme.com about invoice 42\n📎 from: “ACME pays net 30” (m1, saved 3 Nov by you)"
    )
    waiting = await staged(core, cited)
    await scheduler(core).post(DIGEST_CHAT, datetime(2026, 11, 3).date())
    [(_, digest)] = sent(core, Kind.DIGEST)
    lines = digest.text.splitlines()
    assert lines[1] == "Done (4 sent, 3 notes saved, 1 memory command):"
    assert [x.strip() for x in lines[2:6]] == [f"✓ Sent to c{n}@acme.com · approved by you" for n in range(4)]
    assert f"  {waiting} · Email jane@acme.com about invoice 42 · risk low" in lines  # no citation glued on
    assert not any(x.startswith("Failed") for x in lines)
    assert any(x.startswith("Stopped (1): p") and x.endswith(" rejected") for x in lines)


async def test_the_digest_lists_what_may_not_have_been_sent_with_its_words(core: Core) -> None:
    from tests.orchestrator.test_hand_over import uncertain

    pid = await uncertain(core)
    await scheduler(core).post(DIGEST_CHAT, datetime(2026, 11, 3).date())
    [(_, digest)] = sent(core, Kind.DIGEST)
    lines = digest.text.splitlines()
    assert "May not have been sent (1):" in lines
    assert any(x.startswith(f"  {pid}: ") and x.endswith(f"(/resend {pid} · /sent {pid})") for x in lines)


def test_an_input_error_told_at_once_is_not_a_failure_that_needs_attention() -> None:
    from orchestrator import events as ev
    from orchestrator.digest import _still_failed
    from orchestrator.statuses import TaskStatus

    when = datetime(2026, 11, 3, 9, tzinfo=UTC)
    told = ev.TaskFailed(at=when, task_id="t1", summary="Who should I email?", task_status=TaskStatus.FAILED)
    told.detail["told"] = True
    real = ev.TaskFailed(at=when, task_id="t2", summary="the model timed out", task_status=TaskStatus.FAILED)
    assert [e.task_id for e in _still_failed([told, real])] == ["t2"]


async def test_a_restart_within_the_minute_says_again_what_waits(core: Core) -> None:
    await staged(core)
    first = scheduler(core)
    await first.waiting_pass()
    await first.stopped()
    await scheduler(core).waiting_pass()  # the next start, seconds later
    notices = [m.text for _, m in sent(core, Kind.NOTICE) if "for your decision" in m.text]
    assert len(notices) == 2, notices
    together = scheduler(core)
    await together.waiting_pass()  # a scheduler starting beside the running one stays quiet
    assert len([m for _, m in sent(core, Kind.NOTICE) if "for your decision" in m.text]) == 2


def test_the_digest_starts_with_todays_calendar() -> None:
    from datetime import date

    from orchestrator.digest import DigestFacts, compose

    facts = DigestFacts(date(2026, 12, 8), [], [], 0.0, 5.0, [0.0] * 7, today=["10:00–10:30 Call with Jane"])
    assert compose(facts).splitlines()[1:3] == ["On the calendar today (1):", "  10:00–10:30 Call with Jane"]
