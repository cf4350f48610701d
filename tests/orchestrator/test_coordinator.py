"""The core loop on in-memory fakes: what the operator sees and what the ledger records."""

from __future__ import annotations

import asyncio

import pytest

from orchestrator import commands as cmd
from orchestrator.model import Actor, ChatRef, ProposalDraft, Reply, TaskStatus
from orchestrator.outbound import Kind, Outbound
from orchestrator.replay import differences, fold
from tests.orchestrator.conftest import BOSS, STRANGER, Core

EMAIL = ProposalDraft(
    playbook="email",
    summary="Email jane@acme.com about invoice 42",
    actions=[("email.send", {"to": "jane@acme.com", "subject": "Invoice 42", "body": "Hi"})],
)


async def staged(core: Core, draft: ProposalDraft = EMAIL) -> str:
    await core.say("email jane@acme.com about invoice 42")
    task_id = core.queue.runs[-1]
    assert await core.coordinator.handle(cmd.StartTask(task_id))
    await core.coordinator.handle(cmd.CompleteDraft(task_id, draft))
    task = await core.store.get_task(task_id)
    assert task and task.proposal_id
    return task.proposal_id


def ledger_types(core: Core) -> list[str]:
    return [e.type for e in core.store.ledger]


async def test_full_loop_applies_once_and_the_ledger_tells_the_story(core: Core) -> None:
    pid = await staged(core)
    assert core.outbox.sent[0][2].text == "On it…"
    card = next(m for _, _, m in core.outbox.sent if m.kind is Kind.CARD)
    assert card.final and card.proposal and card.proposal.actions[0].target == "jane@acme.com"
    await core.say(f"/approve {pid}")
    assert core.queue.applies == [pid]
    await core.coordinator.handle(cmd.ApplyProposal(pid))
    await core.coordinator.handle(cmd.ApplyProposal(pid))  # a retried job changes nothing
    assert [k for k, _ in core.email.delivered] == [f"{pid}:0"]
    assert ledger_types(core) == [
        "TaskSubmitted",
        "TaskStarted",
        "ProposalStaged",
        "ProposalApproved",
        "TaskApplying",
        "ActionApplying",
        "ActionApplied",
        "TaskDone",
    ]
    assert core.outbox.sent[-1][2].text.startswith("Done: Sent to jane@acme.com · approved by you")
    stored = fold(core.store.ledger)
    task = await core.store.get_task(core.queue.runs[0])
    assert task and task.status is TaskStatus.DONE and stored.tasks[task.id] == "done"


async def test_reject_sends_nothing_and_ledger_says_rejected(core: Core) -> None:
    pid = await staged(core)
    await core.say(f"/reject {pid} wrong tone")
    assert core.queue.applies == [] and core.email.delivered == []
    assert core.store.ledger[-1].type == "ProposalRejected" and core.store.ledger[-1].summary == "wrong tone"
    assert "Rejected" in core.outbox.texts[-1]


async def test_second_approve_says_who_decided_and_changes_nothing(core: Core) -> None:
    pid = await staged(core)
    await core.say(f"/approve {pid}")
    before = len(core.store.ledger)
    await core.say(f"/reject {pid}")
    assert core.outbox.texts[-1] == f"Proposal {pid} was already approved by you at 09:14. Nothing changed."
    assert len(core.store.ledger) == before and core.queue.applies == [pid]


async def test_concurrent_decisions_have_exactly_one_winner(core: Core) -> None:
    pid = await staged(core)
    await asyncio.gather(*(core.say(f"/{'approve' if i % 2 else 'reject'} {pid}") for i in range(50)))
    decisions = [e for e in core.store.ledger if e.type in ("ProposalApproved", "ProposalRejected")]
    assert len(decisions) == 1
    assert len(core.queue.applies) == (1 if decisions[0].type == "ProposalApproved" else 0)


async def test_non_operator_is_refused_and_told_their_id(core: Core) -> None:
    pid = await staged(core)
    await core.say(f"/approve {pid}", actor=STRANGER)
    assert "Your id is slack:U999" in core.outbox.texts[-1]
    assert core.queue.applies == []
    await core.say(f"/approve {pid}", actor=BOSS)
    assert core.queue.applies == [pid]


async def test_unknown_proposal_and_empty_message_get_clear_replies(core: Core) -> None:
    await core.say("/approve nope")
    assert "No proposal with id 'nope'" in core.outbox.texts[-1]
    await core.say("/cancel p3k")
    assert "No proposal with id 'p3k'. Type at least 4 characters of it." in core.outbox.texts[-1]
    await core.say("   ")
    assert "empty" in core.outbox.texts[-1]
    assert core.store.ledger == [] and core.queue.runs == []


async def test_same_event_twice_makes_one_task(core: Core) -> None:
    await core.say("email a@b.co hi", event_id="E1")
    await core.say("email a@b.co hi", event_id="E1")
    assert len(core.queue.runs) == 1


async def test_invalid_action_fields_become_a_reply_not_a_proposal(core: Core) -> None:
    bad = ProposalDraft(playbook="email", summary="x", actions=[("email.send", {"to": "nobody"})])
    await core.say("email nobody")
    task_id = core.queue.runs[-1]
    await core.coordinator.handle(cmd.StartTask(task_id))
    await core.coordinator.handle(cmd.CompleteDraft(task_id, bad))
    assert "'nobody' is not an email address" in core.outbox.texts[-1]
    assert "ProposalStaged" not in ledger_types(core)


async def test_blocked_connector_refuses_approval_with_the_reason(core: Core) -> None:
    core.email.blocked = "email is not configured (set DEPUTY_SMTP_URL)"
    pid = await staged(core)
    await core.say(f"/approve {pid}")
    assert "Can't approve" in core.outbox.texts[-1] and "DEPUTY_SMTP_URL" in core.outbox.texts[-1]
    assert core.queue.applies == []


async def test_transient_failure_is_retried_with_the_same_key_and_sends_once(core: Core) -> None:
    pid = await staged(core)
    await core.say(f"/approve {pid}")
    core.email.fail_next = 1
    try:
        await core.coordinator.handle(cmd.ApplyProposal(pid))
    except Exception as err:
        assert "connection refused" in str(err)
    await core.coordinator.handle(cmd.ApplyProposal(pid))
    assert [k for k, _ in core.email.delivered] == [f"{pid}:0"]


async def test_an_attempt_cut_short_before_the_hand_over_is_sent_again_once(core: Core) -> None:
    pid = await staged(core)
    await core.say(f"/approve {pid}")
    await core.records.begin(f"{pid}:0")  # a crashed attempt began, and handed nothing over
    await core.coordinator.handle(cmd.ApplyProposal(pid))
    assert [k for k, _ in core.email.delivered] == [f"{pid}:0"]
    assert core.outbox.texts[-1].startswith("Done: Sent to jane@acme.com")


async def test_a_hand_over_without_outcome_is_not_resent_for_email(core: Core) -> None:
    pid = await staged(core)
    await core.say(f"/approve {pid}")
    await core.records.begin(f"{pid}:0")  # a crashed attempt handed it over, and never heard back
    await core.records.handed_over(f"{pid}:0")
    await core.coordinator.handle(cmd.ApplyProposal(pid))
    assert core.email.delivered == []
    proposal = await core.store.get_proposal(pid)
    task = await core.store.get_task(core.queue.runs[0])
    assert proposal and proposal.actions[0].status.value == "uncertain"
    assert task and task.status is TaskStatus.AWAITING_OPERATOR
    assert core.outbox.texts[-1].startswith("May not have been sent: Send 'Invoice 42' to jane@acme.com")
    assert "Done" not in core.outbox.texts[-1]


async def test_reply_draft_finishes_the_task(core: Core) -> None:
    await core.say("what do you know?")
    task_id = core.queue.runs[-1]
    await core.coordinator.handle(cmd.StartTask(task_id))
    await core.coordinator.handle(cmd.CompleteDraft(task_id, Reply("Nothing yet.")))
    assert core.outbox.sent[-1][2].final and core.outbox.texts[-1] == "Nothing yet."


async def test_replay_of_the_ledger_matches_the_store(core: Core) -> None:
    pid = await staged(core)
    await core.say(f"/approve {pid}")
    await core.coordinator.handle(cmd.ApplyProposal(pid))
    rebuilt = fold(core.store.ledger)
    task = await core.store.get_task(core.queue.runs[0])
    proposal = await core.store.get_proposal(pid)
    assert task and proposal
    stored = fold([])
    stored.tasks[task.id] = task.status.value
    stored.proposals[pid] = proposal.status.value
    stored.actions[f"{pid}:0"] = proposal.actions[0].status.value
    assert differences(rebuilt, stored) == []
    stored.tasks[task.id] = "failed"
    assert differences(rebuilt, stored) == [f"task {task.id}: ledger says done, store says failed"]


async def test_a_worker_racing_the_submit_never_duplicates_the_task(core: Core) -> None:
    """The sweep may hand a fresh task to a worker before submit has saved its message reference."""
    real_send = core.outbox.send

    async def send_while_a_worker_starts(chat: ChatRef, message: Outbound) -> str | None:
        ref = await real_send(chat, message)
        if message.text == "On it…":
            [task_id] = await core.store.ids("task", "received")
            await core.coordinator.handle(cmd.StartTask(task_id))
        return ref

    core.outbox.send = send_while_a_worker_starts  # type: ignore[method-assign]
    await core.say("email jane@acme.com about invoice 42")
    assert len([e for e in core.store.ledger if e.type == "TaskSubmitted"]) == 1
    assert len(core.queue.runs) == 1


async def test_a_message_that_failed_before_any_change_is_handled_on_redelivery(core: Core) -> None:
    real_new_id = core.store.new_id
    outage = iter([True])

    async def flaky_new_id(prefix: str) -> str:
        if next(outage, False):
            raise ConnectionError("Redis went away")
        return await real_new_id(prefix)

    core.store.new_id = flaky_new_id  # type: ignore[method-assign]
    with pytest.raises(ConnectionError):
        await core.say("email jane@acme.com about invoice 42", event_id="Ev1")
    assert core.store.ledger == []
    await core.say("email jane@acme.com about invoice 42", event_id="Ev1")  # the platform redelivers
    assert [e.type for e in core.store.ledger] == ["TaskSubmitted"] and len(core.queue.runs) == 1


async def test_a_failed_enqueue_after_the_commit_is_left_to_the_sweep(core: Core) -> None:
    async def down(task_id: str, *, again: bool = False) -> None:
        raise ConnectionError("queue unreachable")

    core.queue.enqueue_run = down  # type: ignore[method-assign]
    await core.say("email jane@acme.com about invoice 42", event_id="Ev2")
    assert [e.type for e in core.store.ledger] == ["TaskSubmitted"]  # recorded once; the sweep enqueues it
    await core.say("email jane@acme.com about invoice 42", event_id="Ev2")
    assert [e.type for e in core.store.ledger] == ["TaskSubmitted"]


async def test_an_operators_task_gets_its_id_with_the_claim_and_a_strangers_message_reserves_none(core: Core) -> None:
    await core.say("email jane@acme.com about invoice 42", event_id="Ev3")
    [task_id] = await core.store.ids("task", "received")
    assert core.store.mapped == {"console:Ev3": task_id} and core.queue.runs == [task_id]
    await core.say("email a@b.co hi", actor=STRANGER, event_id="Ev4")
    assert list(core.store.mapped) == ["console:Ev3"]  # answered with their id; no id kept for good


async def test_a_word_that_cannot_be_done_is_answered_once_though_the_platform_sends_it_twice(core: Core) -> None:
    for _ in range(2):
        await core.say("/frobnicate now", event_id="Ev5")
    assert len([t for t in core.outbox.texts if "I don't know /frobnicate" in t]) == 1
    assert core.store.mapped == {}


async def test_strangers_are_answered_once_an_hour_and_a_crowd_of_them_a_few_times_a_minute(core: Core) -> None:
    for _ in range(3):
        await core.say("email a@b.co hi", actor=STRANGER)
    assert len([t for t in core.outbox.texts if "Your id is slack:U999" in t]) == 1
    for n in range(30):
        await core.say("hello", actor=Actor("telegram", str(1000 + n), "someone"))
    assert len([t for t in core.outbox.texts if "You are not an operator" in t or "Your id is" in t]) == 10
    await core.say("email jane@acme.com about invoice 42", actor=BOSS)
    assert core.queue.runs  # the operator is never held back


async def test_only_states_the_operator_must_see_are_marked_shown_and_each_once(core: Core) -> None:
    said: list[str] = []
    real_shown = core.store.shown

    async def shown(task_id: str, status: str, ref: str = "") -> None:
        said.append(status)
        await real_shown(task_id, status, ref)

    core.store.shown = shown  # type: ignore[method-assign]
    await staged(core)  # "On it…", then "Drafting…" edited into it, then the card
    assert said == ["proposed"] and core.store.unshown_ids == {}
