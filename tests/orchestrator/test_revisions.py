"""Revising a proposal, seen from the core: an operator's ask on the version they saw is queued once; the agent's
revision becomes the next version on the same card (an older card's Approve is refused as superseded), or is
refused with a reply and the card left as it was; after a rejection with a reason, Revise with this instead makes
the revision a new proposal while the rejection stands."""

from __future__ import annotations

from dataclasses import replace

import pytest

from orchestrator import commands as cmd
from orchestrator.buttons import APPROVE, REVISE, REVISE_INSTEAD, Click, Target
from orchestrator.model import ChatRef, ProposalDraft, ProposalStatus, Reply
from orchestrator.outbound import Kind
from tests.orchestrator.conftest import BOSS, STRANGER, Core
from tests.orchestrator.test_coordinator import EMAIL, staged
from tests.orchestrator.test_versions import Answers

SLACK = ChatRef("slack", "D1")
WARMER = replace(
    EMAIL,
    summary="Email jane@acme.com: Invoice 42",
    actions=[("email.send", {"to": "jane@acme.com", "subject": "Invoice 42", "body": "Hi Jane, warmly."})],
    cost_spent_usd=0.002,
)


async def asked(core: Core, feedback: str = "warmer", version: int | None = 1) -> str:
    pid = await staged(core)
    answers = Answers()
    await core.coordinator.click(
        Click(BOSS, SLACK, REVISE, Target(pid, version=version), "cb-revise", feedback), answers
    )
    assert answers == [(f"Revising {pid}…", False)]
    return pid


async def test_an_ask_is_queued_once_for_the_version_the_operator_saw(core: Core) -> None:
    pid = await asked(core, "warmer, mention the late fee")
    proposal = await core.store.get_proposal(pid)
    assert proposal and proposal.revising and proposal.revising.feedback == "warmer, mention the late fee"
    assert core.queue.revisions == [(pid, 1)]
    assert core.outbox.texts[-1] == f"Revising {pid} (v1 → v2): “warmer, mention the late fee”…"
    again = Answers()
    await core.coordinator.click(Click(BOSS, SLACK, REVISE, Target(pid, version=1), "cb-2", "shorter"), again)
    assert again[0][1] and f"Proposal {pid} is being revised already (“warmer, mention the late fee”" in again[0][0]
    assert core.queue.revisions == [(pid, 1)]


async def test_the_revision_is_the_next_version_on_the_same_card_and_the_old_card_cant_approve(core: Core) -> None:
    pid = await asked(core)
    task_id = (await core.coordinator.core.proposal(pid)).task_id
    await core.coordinator.handle(cmd.StageRevision(pid, WARMER, "cb-revise"))
    proposal = await core.store.get_proposal(pid)
    assert proposal and proposal.version == 2 and proposal.revised == "warmer" and proposal.revising is None
    assert proposal.actions[0].fields["body"] == "Hi Jane, warmly." and proposal.cost_spent_usd == 0.002
    card_ref = core.outbox.sent[0][1]  # "On it…" became the card: the revision redraws that same message
    (_, ref, card), (chat, _, notice) = core.outbox.sent[-2:]
    assert ref == card_ref and card.kind is Kind.CARD and card.proposal and card.proposal.version == 2
    assert chat == SLACK and notice.text == f"Revised {pid}: version 2 is on its card."  # asked from another chat
    [revised] = [e for e in core.store.ledger if e.type == "ProposalRevised"]
    assert revised.summary == "revised: “warmer”" and revised.task_id == task_id and revised.detail["version"] == 2
    old = Answers()
    await core.coordinator.click(Click(BOSS, SLACK, APPROVE, Target(pid, version=1), "cb-old"), old)
    assert old[0][1] and "changed since this card (v1): it is now version 2" in old[0][0]
    assert core.queue.applies == []
    await core.coordinator.click(Click(BOSS, SLACK, APPROVE, Target(pid, version=2), "cb-new"), old)
    assert core.queue.applies == [pid]


async def test_the_same_revision_handed_twice_stages_once(core: Core) -> None:
    pid = await asked(core)
    await core.coordinator.handle(cmd.StageRevision(pid, WARMER, "cb-revise"))
    await core.coordinator.handle(cmd.StageRevision(pid, WARMER, "cb-revise"))  # the job ran again after a crash
    proposal = await core.store.get_proposal(pid)
    assert proposal and proposal.version == 2
    assert [e.type for e in core.store.ledger].count("ProposalRevised") == 1


@pytest.mark.parametrize(
    ("draft", "why"),
    [
        (Reply("I couldn't tell what to change from “zzz”", ok=False, cost_usd=0.001), "I couldn't tell what"),
        (replace(WARMER, actions=[("note.save", {"title": "x", "body": "y"})]), "I can't do 'note.save' actions"),
        (replace(WARMER, actions=[("email.send", {"to": "nobody", "subject": "s", "body": "b"})]), "not an email"),
    ],
)
async def test_a_refused_revision_leaves_the_card_and_says_why(
    core: Core, draft: ProposalDraft | Reply, why: str
) -> None:
    pid = await asked(core, "zzz")
    shown = len(core.outbox.sent)
    await core.coordinator.handle(cmd.StageRevision(pid, draft, "cb-revise"))
    proposal = await core.store.get_proposal(pid)
    assert proposal and proposal.version == 1 and proposal.revising is None and proposal.status.value == "pending"
    [(_, _, reply)] = core.outbox.sent[shown:]
    assert reply.kind is Kind.ERROR and reply.text.startswith(f"Couldn't revise {pid} with “zzz”") and why in reply.text
    assert reply.text.endswith("Nothing changed.") and reply.reply_to == "cb-revise"
    assert core.queue.revisions == [(pid, 1)]
    await core.coordinator.click(Click(BOSS, SLACK, REVISE, Target(pid, version=1), "cb-again", "shorter"), Answers())
    assert core.queue.revisions == [(pid, 1), (pid, 1)]  # asking again is not blocked


async def test_a_revision_that_comes_after_the_decision_is_not_staged(core: Core) -> None:
    pid = await asked(core)
    await core.coordinator.click(Click(BOSS, SLACK, APPROVE, Target(pid, version=1), "cb-approve"), Answers())
    await core.coordinator.handle(cmd.StageRevision(pid, WARMER, "cb-revise"))
    proposal = await core.store.get_proposal(pid)
    assert proposal and proposal.status is ProposalStatus.APPROVED and proposal.version == 1
    said = core.outbox.texts[-1]
    assert said.startswith(f"Couldn't revise {pid} with “warmer”") and "it was approved by sam at 09:14" in said


@pytest.mark.parametrize(
    ("text", "refusal"),
    [
        ("/revise {pid}", "What should change? Type /revise {pid} <what to change>"),
        ("/revise", "Which proposal? Type /revise <id>"),
    ],
)
async def test_a_typed_revise_needs_the_proposal_and_the_feedback(core: Core, text: str, refusal: str) -> None:
    pid = await staged(core)
    await core.say(text.format(pid=pid), actor=BOSS)
    assert refusal.format(pid=pid) in core.outbox.texts[-1] and core.queue.revisions == []


async def test_only_operators_revise_and_only_pending_proposals(core: Core) -> None:
    pid = await staged(core)
    await core.say(f"/revise {pid} shorter", actor=STRANGER)
    assert core.queue.revisions == []
    await core.say(f"/reject {pid}", actor=BOSS)
    await core.say(f"/revise {pid} shorter", actor=BOSS)
    assert f"Proposal {pid} was already rejected by sam" in core.outbox.texts[-1] and core.queue.revisions == []


async def test_a_lost_ask_stops_blocking_after_a_while(core: Core) -> None:
    pid = await asked(core)
    core.clock.advance(16 * 60)
    await core.say(f"/revise {pid} shorter", actor=BOSS)
    assert core.queue.revisions == [(pid, 1), (pid, 1)]


async def test_revise_with_this_instead_makes_the_revision_a_new_proposal(core: Core) -> None:
    pid = await staged(core)
    await core.say(f"/reject {pid} too stiff, make it warmer", actor=BOSS)
    answers = Answers()
    await core.coordinator.click(Click(BOSS, SLACK, REVISE_INSTEAD, Target(pid), "cb-instead"), answers)
    assert answers == [(f"Revising {pid}…", False)] and core.queue.revisions == [(pid, 1)]
    await core.coordinator.handle(cmd.StageRevision(pid, WARMER, "cb-instead"))
    rejected = await core.store.get_proposal(pid)
    assert rejected and rejected.status is ProposalStatus.REJECTED and rejected.revised_as
    successor = await core.store.get_proposal(rejected.revised_as)
    assert successor and successor.status is ProposalStatus.PENDING and successor.version == 1
    assert successor.revised == "too stiff, make it warmer" and f"(revises {pid})" in successor.summary
    card = core.outbox.sent[-1][2]
    assert card.kind is Kind.CARD and card.proposal and card.proposal.id == successor.id
    again = Answers()
    await core.coordinator.click(Click(BOSS, SLACK, REVISE_INSTEAD, Target(pid), "cb-twice"), again)
    assert again == [(f"Proposal {pid} was already revised as {successor.id}. Nothing changed.", True)]


async def test_a_bare_revise_after_a_rejection_with_a_reason_is_revise_with_this_instead(core: Core) -> None:
    """Issue 29 (#15): the console has the button's word — `/revise <id>` alone, which its rejection line shows."""
    from bot.console.render import render

    pid = await staged(core)
    await core.say(f"/reject {pid} too stiff, make it warmer", actor=BOSS)
    outcome = next(m for _, _, m in reversed(core.outbox.sent) if m.proposal and m.kind is Kind.OUTCOME)
    assert f"/revise {pid}   (drafts it again with your reason, as a new proposal)" in render(outcome)
    await core.say(f"/revise {pid}", actor=BOSS)
    assert core.queue.revisions == [(pid, 1)]
    asked = await core.store.get_proposal(pid)
    assert asked and asked.revising and asked.revising.successor
    await core.coordinator.handle(cmd.StageRevision(pid, WARMER, asked.revising.event_id))
    rejected = await core.store.get_proposal(pid)
    assert rejected and rejected.status is ProposalStatus.REJECTED and rejected.revised_as
