"""Requests scheduled for later, seen from the core on a controllable clock: approved, the request waits; at its
time the scheduler runs it once as a new task in the same chat — however many schedulers find it — and late,
saying so, after downtime; a plain reminder is a message; /cancel stops it before it runs and not after; /status
lists what is scheduled."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from orchestrator import commands as cmd
from orchestrator.buttons import CANCEL, Click, Target
from orchestrator.fakes.books import FakeSpend, InMemoryDigestBook, InMemoryLater
from orchestrator.fakes.connectors import FakeLaterConnector
from orchestrator.fakes.world import FakeLiveness
from orchestrator.model import ChatRef, ProposalDraft
from orchestrator.outbound import Kind, Outbound
from orchestrator.schedule import ScheduleConfig, Scheduler
from tests.orchestrator.conftest import BOSS, CONSOLE, Core
from tests.orchestrator.test_coordinator import staged
from tests.orchestrator.test_versions import Answers

FOLLOW_UP = "email jane@acme.com a follow-up about invoice 42"


def scheduling(core: Core) -> InMemoryLater:
    later = InMemoryLater()
    bus = core.coordinator.core
    bus.later, bus.connectors = later, {**bus.connectors, "task.later": FakeLaterConnector(later)}
    return later


def scheduler(core: Core) -> Scheduler:
    config = ScheduleConfig(digest_chat=CONSOLE)
    return Scheduler(core.coordinator, core.store, InMemoryDigestBook(), FakeSpend(), FakeLiveness(), config)


async def approved(core: Core, *, minutes: float = 1, remind: bool = False, request: str = FOLLOW_UP) -> str:
    at = core.clock.now() + timedelta(minutes=minutes)
    fields = {"request": request, "at": at.isoformat(), "remind": remind}
    pid = await staged(core, ProposalDraft(playbook="later", summary="Later", actions=[("task.later", fields)]))
    await core.say(f"/approve {pid}")
    await core.coordinator.handle(cmd.ApplyProposal(pid))
    return pid


async def test_at_its_time_the_request_runs_once_as_a_new_task_in_the_same_chat(core: Core) -> None:
    later = scheduling(core)
    pid = await approved(core)
    runs = list(core.queue.runs)
    await scheduler(core).later_pass()
    assert core.queue.runs == runs  # not yet
    core.clock.advance(61)
    await scheduler(core).later_pass()
    [new] = core.queue.runs[len(runs) :]
    task = await core.store.get_task(new)
    assert task and task.text == FOLLOW_UP and task.chat == CONSOLE and task.actor.id == "console:operator"
    assert f"As scheduled ({pid}): {FOLLOW_UP}" in core.outbox.texts
    assert later.items[f"{pid}:0"].status == "fired" and later.items[f"{pid}:0"].task_id == new
    [fired] = [e for e in core.store.ledger if e.type == "LaterFired"]
    assert fired.proposal_id == pid and fired.detail["task"] == new and fired.detail["late_s"] < 60
    card = next(m for _, _, m in reversed(core.outbox.sent) if m.proposal and m.proposal.id == pid)
    assert card.kind is Kind.OUTCOME and card.text.endswith(f" · ran as task {new} at 09:15")  # no Cancel now
    source = await core.store.get_proposal(pid)
    assert source and source.actions[0].word == f"ran as task {new} at 09:15"
    await scheduler(core).later_pass()
    assert core.queue.runs[len(runs) :] == [new]


async def test_two_schedulers_at_once_make_one_task(core: Core) -> None:
    scheduling(core)
    await approved(core)
    runs = len(core.queue.runs)
    core.clock.advance(61)
    await asyncio.gather(scheduler(core).later_pass(), scheduler(core).later_pass())
    assert len(core.queue.runs) == runs + 1
    assert len([e for e in core.store.ledger if e.type == "TaskSubmitted"]) == 2  # the request, and the one it ran


async def test_after_downtime_it_runs_late_and_says_so(core: Core) -> None:
    scheduling(core)
    pid = await approved(core)
    core.clock.advance(3 * 3600)
    await scheduler(core).later_pass()
    assert f"As scheduled ({pid}), 2 h 59 min late (Deputy wasn't running at Tue 3 Nov 09:15): {FOLLOW_UP}" in (
        core.outbox.texts
    )


async def test_a_plain_reminder_is_a_message_said_once(core: Core) -> None:
    later = scheduling(core)
    pid = await approved(core, remind=True, request="call Anna")
    runs = len(core.queue.runs)
    core.clock.advance(61)
    await asyncio.gather(scheduler(core).later_pass(), scheduler(core).later_pass())
    said = [m for _, _, m in core.outbox.sent if m.text == "Reminder: call Anna"]
    assert len(said) == 1 and said[0].kind is Kind.REMINDER and len(core.queue.runs) == runs
    assert later.items[f"{pid}:0"].status == "fired"


async def test_cancel_before_it_runs_and_not_after(core: Core) -> None:
    later = scheduling(core)
    pid = await approved(core)
    await core.say("/status")
    assert f"  {pid}: Tue 3 Nov 09:15 — {FOLLOW_UP}  (/cancel {pid})" in core.outbox.texts[-1]
    answers = Answers()
    await core.coordinator.click(Click(BOSS, ChatRef("slack", "D1"), CANCEL, Target(pid), "cb-cancel"), answers)
    assert answers == [(f"Cancelled {pid}.", False)] and later.items[f"{pid}:0"].status == "cancelled"
    [cancelled] = [e for e in core.store.ledger if e.type == "LaterCancelled"]
    assert cancelled.actor == BOSS.id
    card = next(m for _, _, m in reversed(core.outbox.sent) if m.proposal and m.kind is Kind.OUTCOME)
    assert card.text == f"Cancelled by sam: {FOLLOW_UP} — it won't run."
    core.clock.advance(61)
    runs = len(core.queue.runs)
    await scheduler(core).later_pass()
    assert len(core.queue.runs) == runs
    await core.say(f"/cancel {pid}", actor=BOSS)
    assert core.outbox.texts[-1] == f"Proposal {pid} was already cancelled by sam at 09:14. Nothing changed."


async def test_cancel_after_it_ran_is_too_late(core: Core) -> None:
    scheduling(core)
    pid = await approved(core)
    core.clock.advance(61)
    await scheduler(core).later_pass()
    await core.say(f"/cancel {pid}", actor=BOSS)
    assert core.outbox.texts[-1].startswith(f"Too late to cancel {pid}: it ran as task ")


async def test_cancel_names_a_proposal_that_scheduled_something(core: Core) -> None:
    scheduling(core)
    pid = await staged(core)
    await core.say(f"/cancel {pid}", actor=BOSS)
    assert core.outbox.texts[-1] == f"Nothing of {pid} is scheduled for later. /status lists what is."


async def test_a_pass_that_died_after_taking_it_leaves_it_to_the_next_which_runs_it_once(core: Core) -> None:
    later = scheduling(core)
    pid = await approved(core)
    core.clock.advance(61)
    assert await later.take(f"{pid}:0") is not None  # a scheduler took it, then its process was killed
    runs = len(core.queue.runs)
    await scheduler(core).later_pass()
    await scheduler(core).later_pass()
    assert len(core.queue.runs) == runs + 1 and later.items[f"{pid}:0"].status == "fired"


async def test_a_reminder_is_marked_said_as_soon_as_it_is_posted(core: Core) -> None:
    """A pass killed after the post, before its follow-up: the next pass (after the lease) says nothing again."""
    later = scheduling(core)
    pid = await approved(core, remind=True, request="call Bea")
    core.clock.advance(61)
    key = f"{pid}:0"
    await core.coordinator.handlers[cmd.RunLater](cmd.RunLater(key), core.coordinator.core)  # no follow-up run
    assert later.items[key].status == "fired"
    core.clock.advance(600)
    await core.coordinator.handle(cmd.RunLater(key))
    assert [m.text for _, _, m in core.outbox.sent].count("Reminder: call Bea") == 1


async def test_bare_cancel_follows_bare_approve(core: Core) -> None:
    """Issue 29 (#18): with exactly one thing to cancel the id may be left out; with none or several, words."""
    later = scheduling(core)
    await core.say("/cancel", actor=BOSS)
    assert core.outbox.texts[-1] == "Nothing is scheduled for later or running, so there is nothing to cancel."
    pid = await approved(core)
    await core.say("/cancel", actor=BOSS)
    assert later.items[f"{pid}:0"].status == "cancelled"
    other = await approved(core, minutes=5, request="call Anna", remind=True)
    third = await approved(core, minutes=9, request="call Bob", remind=True)
    await core.say("/cancel", actor=BOSS)
    listed = core.outbox.texts[-1]
    assert listed.startswith("2 things could be cancelled: which one?"), listed
    assert f"  /cancel {other} — call Anna (Tue 3 Nov 09:19)" in listed and f"/cancel {third} — call Bob" in listed
    assert later.items[f"{other}:0"].status == "scheduled"


async def test_an_edit_of_a_time_goes_through_the_connectors_amend(core: Core) -> None:
    """The core asks a connector that reads typed values against the current ones (`amend`) before staging."""
    later = scheduling(core)

    class Amending(FakeLaterConnector):
        def amend(self, fields: dict[str, object], changes: dict[str, object]) -> dict[str, object]:
            return {**changes, "at": str(fields["at"])[:11] + str(changes["at"])}

    bus = core.coordinator.core
    bus.connectors = {**bus.connectors, "task.later": Amending(later)}
    at = core.clock.now() + timedelta(days=2)
    fields = {"request": FOLLOW_UP, "at": at.isoformat(), "remind": False}
    pid = await staged(core, ProposalDraft(playbook="later", summary="Later", actions=[("task.later", fields)]))
    await core.say(f"/edit {pid} at 12:25")
    proposal = await core.store.get_proposal(pid)
    assert proposal is not None and proposal.actions[0].fields["at"] == at.isoformat()[:11] + "12:25"


async def test_a_reminder_whose_pass_died_before_the_post_is_said_once_by_the_show_pass(core: Core) -> None:
    """Committed, then said: the pass marked it fired (and unsaid) and died before the chat had it. No later pass
    runs it again; the scheduler's show pass says it, once, however many schedulers look."""
    later = scheduling(core)
    pid = await approved(core, remind=True, request="call Cid")
    core.clock.advance(61)
    key = f"{pid}:0"
    real, sent = core.outbox.send, 0

    async def killed_before_the_post(chat: ChatRef, message: Outbound) -> str | None:
        nonlocal sent
        if message.kind is Kind.REMINDER and not sent:
            sent += 1
            raise ConnectionError("the pass was killed")  # nothing reached the chat
        return await real(chat, message)

    core.outbox.send = killed_before_the_post  # type: ignore[method-assign]
    await scheduler(core).later_pass()
    assert "Reminder: call Cid" not in core.outbox.texts and later.items[key].status == "fired"
    assert await later.unsaid() == [key]
    core.clock.advance(600)
    await scheduler(core).later_pass()  # the lease lapsed: still not run again
    await asyncio.gather(scheduler(core).show_pass(), scheduler(core).show_pass())
    await scheduler(core).show_pass()
    said = [t for t in core.outbox.texts if t.startswith("Reminder") and t.endswith("call Cid")]
    assert said == ["Reminder, 10 min late (Deputy wasn't running at Tue 3 Nov 09:15): call Cid"], said
    assert await later.unsaid() == []
