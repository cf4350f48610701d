"""Invariant 12 on the in-memory fakes: an action is retried freely until it is handed over; a crash after the
hand-over leaves it "may not have been sent", never Done, until the operator says Send again or Mark as sent."""

from __future__ import annotations

import pytest

from orchestrator import commands as cmd
from orchestrator.buttons import MARK_SENT, RESEND, Click, Target
from orchestrator.errors import TransientConnectorError
from orchestrator.fakes.connectors import Crashed
from orchestrator.model import ActionStatus, ChatRef, Task, TaskStatus
from orchestrator.outbound import Kind
from orchestrator.replay import differences, fold
from tests.orchestrator.conftest import BOSS, STRANGER, Core
from tests.orchestrator.test_coordinator import staged

SLACK = ChatRef("slack", "D1")


async def approved(core: Core) -> str:
    pid = await staged(core)
    await core.say(f"/approve {pid}")
    return pid


async def crashed_apply(core: Core, pid: str, when: str) -> None:
    """The worker dies inside the connector call; the next job finds what the dead one left."""
    core.email.crash_next = when
    with pytest.raises(Crashed):
        await core.coordinator.handle(cmd.ApplyProposal(pid))


async def uncertain(core: Core) -> str:
    pid = await approved(core)
    await crashed_apply(core, pid, "after")
    await core.coordinator.handle(cmd.ApplyProposal(pid))
    return pid


async def task_status(core: Core) -> TaskStatus:
    task = await core.store.get_task(core.queue.runs[0])
    assert task is not None
    return task.status


def ledger(core: Core, kind: str) -> list[str]:
    return [f"{e.actor}|{e.action_status}|{e.summary}" for e in core.store.ledger if e.type == kind]


def replay_agrees(core: Core) -> list[str]:
    """What `deputy replay` reports: the ledger folded, against the stored records."""
    stored = fold([])
    for record in core.store.records.values():
        if isinstance(record, Task):
            stored.tasks[record.id] = record.status.value
            continue
        stored.proposals[record.id] = record.status.value
        for index, action in enumerate(record.actions):
            stored.actions[f"{record.id}:{index}"] = action.status.value
    return differences(fold(core.store.ledger), stored)


async def test_a_crash_before_the_hand_over_is_sent_on_the_retry_exactly_once(core: Core) -> None:
    pid = await approved(core)
    await crashed_apply(core, pid, "before")
    assert core.email.delivered == []
    await core.coordinator.handle(cmd.ApplyProposal(pid))
    await core.coordinator.handle(cmd.ApplyProposal(pid))  # a job retried once more sends nothing
    assert [k for k, _ in core.email.delivered] == [f"{pid}:0"]
    assert core.outbox.texts[-1].startswith("Done: Sent to jane@acme.com")
    assert await task_status(core) is TaskStatus.DONE


async def test_a_crash_after_the_hand_over_may_not_have_been_sent_and_is_never_done(core: Core) -> None:
    pid = await uncertain(core)
    await core.coordinator.handle(cmd.ApplyProposal(pid))  # another job changes nothing while it waits
    assert len(core.email.delivered) == 1
    last = core.outbox.sent[-1][2]
    assert last.kind is Kind.ERROR and last.final and last.text.startswith("May not have been sent: Send 'Invoice 42'")
    assert "Send again or Mark as sent" in last.text and "Done" not in last.text
    assert await task_status(core) is TaskStatus.AWAITING_OPERATOR
    assert [e.type for e in core.store.ledger][-2:] == ["ActionUncertain", "TaskAwaitingOperator"]
    assert replay_agrees(core) == []


async def test_a_connection_lost_after_the_hand_over_is_uncertain_in_the_connectors_words(core: Core) -> None:
    pid = await approved(core)
    core.email.lose_next = True
    await core.coordinator.handle(cmd.ApplyProposal(pid))
    proposal = await core.store.get_proposal(pid)
    assert proposal and proposal.actions[0].status is ActionStatus.UNCERTAIN
    assert "the connection broke mid-send" in core.outbox.texts[-1]


async def test_a_connection_lost_before_the_hand_over_is_retried(core: Core) -> None:
    from orchestrator.errors import ConnectorError

    pid = await approved(core)
    original = core.email.apply

    async def drops_early(fields: dict[str, object], key: str, handing_over: object) -> str:
        core.email.apply = original  # type: ignore[method-assign]
        raise ConnectorError("the SMTP connection broke mid-send: EHLO")

    core.email.apply = drops_early  # type: ignore[method-assign,assignment]
    with pytest.raises(TransientConnectorError, match="nothing was handed over yet"):
        await core.coordinator.handle(cmd.ApplyProposal(pid))
    await core.coordinator.handle(cmd.ApplyProposal(pid))
    assert [k for k, _ in core.email.delivered] == [f"{pid}:0"]
    assert await task_status(core) is TaskStatus.DONE


async def test_send_again_sends_exactly_once_more_under_the_same_key(core: Core) -> None:
    pid = await uncertain(core)
    await core.say(f"/resend {pid}", actor=BOSS)
    assert core.queue.applies[-1] == pid and "Sending #1 of" in core.outbox.texts[-1]
    await core.coordinator.handle(cmd.ApplyProposal(pid))
    await core.coordinator.handle(cmd.ApplyProposal(pid))  # the job retried: still once more
    assert [k for k, _ in core.email.delivered] == [f"{pid}:0", f"{pid}:0"]
    assert core.outbox.texts[-1].startswith("Done: Sent to jane@acme.com")
    assert ledger(core, "ActionResendApproved") == [
        f"{BOSS.id}|applying|Send 'Invoice 42' to jane@acme.com — sent again by sam"
    ]
    assert replay_agrees(core) == []


async def test_mark_as_sent_sends_nothing_and_settles_it_as_the_operators_word(core: Core) -> None:
    pid = await uncertain(core)
    await core.say(f"/sent {pid}", actor=BOSS)
    assert len(core.email.delivered) == 1
    assert core.outbox.texts[-1].startswith("Done: Send 'Invoice 42' to jane@acme.com — marked as sent by sam")
    assert await task_status(core) is TaskStatus.DONE
    assert ledger(core, "ActionMarkedSent") == [
        f"{BOSS.id}|applied|Send 'Invoice 42' to jane@acme.com — marked as sent by sam"
    ]
    assert replay_agrees(core) == []


async def test_a_second_press_says_what_happened_and_changes_nothing(core: Core) -> None:
    pid = await uncertain(core)
    await core.say(f"/sent {pid}", actor=BOSS)
    before = len(core.store.ledger)
    await core.say(f"/sent {pid}", actor=BOSS)
    assert core.outbox.texts[-1] == f"#1 of {pid} was already marked as sent by sam at 09:14. Nothing changed."
    await core.say(f"/resend {pid}", actor=BOSS)
    assert core.outbox.texts[-1] == f"#1 of {pid} was already marked as sent by sam at 09:14. Nothing changed."
    assert len(core.store.ledger) == before and len(core.email.delivered) == 1


async def test_a_second_send_again_while_the_first_is_on_its_way_sends_nothing_more(core: Core) -> None:
    pid = await uncertain(core)
    await core.say(f"/resend {pid}", actor=BOSS)
    await core.say(f"/resend {pid}", actor=BOSS)
    assert "was already sent again by sam at 09:14 and is applying now. Nothing changed." in core.outbox.texts[-1]
    await core.coordinator.handle(cmd.ApplyProposal(pid))
    assert len(core.email.delivered) == 2 and len(ledger(core, "ActionResendApproved")) == 1


async def test_only_operators_may_send_again_or_mark_as_sent(core: Core) -> None:
    pid = await uncertain(core)
    before = len(core.store.ledger)
    for word in ("resend", "sent", "retry"):
        await core.say(f"/{word} {pid}", actor=STRANGER)
        assert core.outbox.texts[-1].startswith("You can't ") and "slack:U999" in core.outbox.texts[-1]
    assert len(core.store.ledger) == before and await task_status(core) is TaskStatus.AWAITING_OPERATOR


async def test_the_buttons_are_answered_before_the_card_is_redrawn(core: Core) -> None:
    pid = await uncertain(core)
    answers: list[tuple[str, int]] = []

    async def answer(text: str, refused: bool) -> None:
        answers.append((text, len(core.outbox.sent)))

    shown = len(core.outbox.sent)
    await core.coordinator.click(Click(BOSS, SLACK, RESEND, Target(pid, index=0), "cb1"), answer)
    await core.coordinator.click(Click(BOSS, SLACK, MARK_SENT, Target(pid, index=0), "cb2"), answer)
    assert answers[0] == (f"Sending #1 of {pid} again.", shown)
    assert answers[1][0].startswith(f"#1 of {pid} was already sent again by sam")
    assert core.queue.applies[-1] == pid


async def test_a_retried_job_never_sends_a_resend_twice_after_a_crash_before_its_hand_over(core: Core) -> None:
    pid = await uncertain(core)
    await core.say(f"/resend {pid}", actor=BOSS)
    await crashed_apply(core, pid, "before")
    await core.coordinator.handle(cmd.ApplyProposal(pid))
    assert [k for k, _ in core.email.delivered] == [f"{pid}:0", f"{pid}:0"]
    assert await task_status(core) is TaskStatus.DONE


async def test_status_lists_what_may_not_have_been_sent_with_its_words_until_settled(core: Core) -> None:
    pid = await uncertain(core)
    await core.say("/status")
    status = core.outbox.sent[-1][2].text
    assert "May not have been sent, waiting for your word: 1" in status
    assert f"  {pid}: " in status and f"(/resend {pid} · /sent {pid})" in status
    await core.say(f"/sent {pid}")
    await core.say("/status")
    assert "May not have been sent" not in core.outbox.sent[-1][2].text
