"""Policies, edit-before-approve, the undo window and the circuit notice, on in-memory fakes."""

from __future__ import annotations

import contextlib
from dataclasses import replace
from datetime import timedelta

import pytest

from orchestrator import commands as cmd
from orchestrator.errors import CircuitOpen, StaleVersion
from orchestrator.fakes.stores import InMemoryFacts
from orchestrator.handlers.applying import MAX_WAITS
from orchestrator.kinds import Preview
from orchestrator.model import ProposalDraft, Verdict
from orchestrator.policies import AutoRule, Policies
from tests.orchestrator.conftest import CONSOLE, ME, NOTES, Core
from tests.orchestrator.test_coordinator import EMAIL, staged

NOTE = ProposalDraft(playbook="note", summary="Plan", actions=[("note.save", {"title": "Plan", "body": "1. x"})])
RULES = Policies(
    auto_approve=(AutoRule("notes-always", "note.save"), AutoRule("known-clients", "email.send", True, 0.05)),
    undoable=frozenset({"email.send"}),
)


def configure(core: Core, *, undo_seconds: int = 0, facts: InMemoryFacts | None = None) -> None:
    from orchestrator.fakes.connectors import FakeConnector

    notes = FakeConnector(kind="note.save", resend_safe=True, declared=NOTES)
    notes.validate = lambda fields: dict(fields)  # type: ignore[method-assign]
    notes.preview = lambda fields: Preview(summary="Save the note", target="Deputy notes")  # type: ignore[method-assign]
    core.rewire({"note.save": notes}, facts=facts, policies=RULES, undo_seconds=undo_seconds)


def ledger(core: Core, kind: str) -> list[str]:
    return [f"{e.actor}|{e.summary}" for e in core.store.ledger if e.type == kind]


async def test_note_is_auto_approved_and_the_ledger_names_the_rule(core: Core) -> None:
    configure(core)
    await staged(core, NOTE)
    assert ledger(core, "ProposalApproved") == ["policy:notes-always|auto-approved by rule notes-always"]
    card = next(m for _, _, m in core.outbox.sent if m.proposal and m.kind.value == "card")
    assert not card.final  # the outcome, not the card, answers the request


async def test_email_to_an_unknown_address_still_needs_approval(core: Core) -> None:
    configure(core, facts=InMemoryFacts())
    await staged(core, EMAIL)
    assert ledger(core, "ProposalApproved") == [] and core.queue.applies == []


async def test_email_to_a_client_in_memory_is_auto_approved(core: Core) -> None:
    facts = InMemoryFacts()
    await facts.remember("Jane (jane@acme.com) is our client at ACME", source="test")
    configure(core, facts=facts)
    await staged(core, EMAIL)
    assert ledger(core, "ProposalApproved") == ["policy:known-clients|auto-approved by rule known-clients"]


async def test_edit_makes_a_new_version_and_a_stale_approval_is_refused(core: Core) -> None:
    configure(core)
    pid = await staged(core, EMAIL)
    await core.say(f"/edit {pid} subject Invoice 42 — friendly reminder")
    proposal = await core.store.get_proposal(pid)
    assert (
        proposal and proposal.version == 2 and proposal.actions[0].fields["subject"] == "Invoice 42 — friendly reminder"
    )
    assert core.outbox.sent[-1][2].proposal and core.outbox.sent[-1][2].proposal.version == 2
    stale = cmd.DecideProposal(proposal_id=pid, actor=ME, verdict=Verdict.APPROVE, chat=CONSOLE, version=1)
    with pytest.raises(StaleVersion, match="it is now version 2"):
        await core.coordinator.handle(stale)
    assert core.queue.applies == [] and ledger(core, "ProposalApproved") == []


async def test_edit_is_validated_again(core: Core) -> None:
    configure(core)
    pid = await staged(core, EMAIL)
    await core.say(f"/edit {pid} to not-an-address")
    assert "is not an email address" in core.outbox.texts[-1]
    proposal = await core.store.get_proposal(pid)
    assert proposal and proposal.version == 1


async def test_undo_within_the_window_sends_nothing(core: Core) -> None:
    configure(core, undo_seconds=20)
    pid = await staged(core, EMAIL)
    await core.say(f"/approve {pid}")
    assert core.queue.apply_at[pid] == core.clock.now() + timedelta(seconds=20)
    assert "sending in 20 s. /undo" in core.outbox.texts[-1]
    await core.coordinator.handle(cmd.ApplyProposal(pid))  # a job that runs early holds
    await core.say(f"/undo {pid}")
    assert "Nothing was sent" in core.outbox.texts[-1]
    core.clock.advance(30)
    await core.coordinator.handle(cmd.ApplyProposal(pid))
    assert core.email.delivered == [] and ledger(core, "ProposalUndone") == ["console:operator|undone before it ran"]


async def test_after_the_window_it_is_sent_once_and_undo_is_too_late(core: Core) -> None:
    configure(core, undo_seconds=20)
    pid = await staged(core, EMAIL)
    await core.say(f"/approve {pid}")
    core.clock.advance(21)
    await core.coordinator.handle(cmd.ApplyProposal(pid))
    await core.say(f"/undo {pid}")
    assert core.outbox.texts[-1].startswith(f"Too late to undo {pid}: Sent to jane@acme.com")
    assert len(core.email.delivered) == 1


async def test_circuit_open_tells_the_operator_once(core: Core) -> None:
    configure(core)
    raised = iter([CircuitOpen("email.send paused", just_opened=True), CircuitOpen("still paused")])

    async def failing(fields: dict[str, object], key: str, handing_over: object) -> str:
        raise next(raised)

    core.email.apply = failing  # type: ignore[method-assign,assignment]
    pid = await staged(core, EMAIL)
    await core.say(f"/approve {pid}")
    for _ in range(2):
        with contextlib.suppress(CircuitOpen):
            await core.coordinator.handle(cmd.ApplyProposal(pid))
    assert [t for t in core.outbox.texts if "paused" in t] == ["email.send paused: email.send paused"]
    assert core.records.records == {}  # nothing was delivered, so a later retry sends afresh


async def test_an_open_breaker_defers_the_apply_until_it_closes_and_then_it_runs(core: Core) -> None:
    configure(core)
    reopens = core.clock.now().timestamp() + 60
    real = core.email.apply
    raised = iter([CircuitOpen("email.send is paused", just_opened=True, open_until=reopens)])

    async def paused_once(fields: dict[str, object], key: str, handing_over: object) -> str:
        err = next(raised, None)
        if err is not None:
            raise err
        return await real(fields, key, handing_over)  # type: ignore[arg-type]

    core.email.apply = paused_once  # type: ignore[method-assign,assignment]
    pid = await staged(core, EMAIL)
    await core.say(f"/approve {pid}")
    await core.coordinator.handle(cmd.ApplyProposal(pid))  # no error: it waits, it doesn't fail
    proposal = await core.store.get_proposal(pid)
    assert proposal and proposal.hold_until and proposal.hold_until.timestamp() >= reopens
    assert any(t.startswith("Waiting: email.send is paused. Deputy will carry on at") for t in core.outbox.texts)
    assert core.email.delivered == [] and "TaskFailed" not in [e.type for e in core.store.ledger]
    core.clock.advance(61)
    await core.coordinator.handle(cmd.ApplyProposal(pid))
    assert len(core.email.delivered) == 1 and core.outbox.texts[-1].startswith("Done: Sent to jane@acme.com")


async def test_an_apply_waits_for_a_breaker_a_bounded_number_of_times(core: Core) -> None:
    configure(core)

    async def always_paused(fields: dict[str, object], key: str, handing_over: object) -> str:
        raise CircuitOpen("email.send is paused", open_until=core.clock.now().timestamp() + 60)

    core.email.apply = always_paused  # type: ignore[method-assign,assignment]
    pid = await staged(core, EMAIL)
    await core.say(f"/approve {pid}")
    for _ in range(MAX_WAITS):
        await core.coordinator.handle(cmd.ApplyProposal(pid))
        core.clock.advance(61)
    with pytest.raises(CircuitOpen):  # then it fails as any transient error does (the job's retries, then failed)
        await core.coordinator.handle(cmd.ApplyProposal(pid))


def test_policies_are_plain_values() -> None:
    assert replace(RULES, undoable=frozenset()).undoable == frozenset()


async def test_a_draft_waits_for_the_model_breaker_a_bounded_number_of_times(core: Core) -> None:
    await core.say("email jane@acme.com about invoice 42")
    task_id = core.queue.runs[-1]
    reason = "llm.openai is paused after 5 failures in a row; retrying after 10:01:00"
    for n in range(1, MAX_WAITS + 1):
        assert await core.coordinator.handle(cmd.StartTask(task_id))
        reopens = core.clock.now().timestamp() + 60
        at = await core.coordinator.handle(cmd.DeferTask(task_id=task_id, reason=reason, open_until=reopens))
        assert at.timestamp() == reopens + 1  # the job runs again just after the breaker lets calls through
        assert core.outbox.texts[-1].startswith(f"Waiting: {reason}. Deputy will carry on at")
        assert core.outbox.texts[-1].endswith(f"(wait {n} of at most {MAX_WAITS}).")
        task = await core.store.get_task(task_id)
        assert task and task.status.value == "running"
        core.clock.advance(61)
    assert await core.coordinator.handle(cmd.StartTask(task_id))
    reopens = core.clock.now().timestamp() + 60
    assert await core.coordinator.handle(cmd.DeferTask(task_id=task_id, reason=reason, open_until=reopens)) is None
    assert core.outbox.texts[-1] == f"I couldn't draft this: {reason}. Nothing was staged."
    task = await core.store.get_task(task_id)
    assert task and task.status.value == "failed"
