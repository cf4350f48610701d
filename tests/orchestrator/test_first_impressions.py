"""What a new user tripped on, in the core: an edit retitles the card, lists show headlines only, the past
tense is right, the console's "you" is only the console's word, and memory answers come without progress
lines."""

from __future__ import annotations

from dataclasses import replace

from orchestrator import commands as cmd
from orchestrator.buttons import APPROVE, Click, Target
from orchestrator.model import ChatRef, Reply
from orchestrator.outbound import Kind
from tests.orchestrator.conftest import BOSS, Core
from tests.orchestrator.test_coordinator import EMAIL, staged

RENEWAL = replace(
    EMAIL,
    summary="Email jane@acme.com: About the contract renewal\n📎 from: “ACME renews in March” (m1, saved 3 Nov by you)",
    actions=[("email.send", {"to": "jane@acme.com", "subject": "About the contract renewal", "body": "Hi"})],
)


async def test_an_edit_retitles_the_card_and_status(core: Core) -> None:
    pid = await staged(core, RENEWAL)
    await core.say(f"/edit {pid} subject Contract renewal: next steps")
    proposal = await core.store.get_proposal(pid)
    assert proposal and proposal.summary.splitlines()[0] == "Email jane@acme.com: Contract renewal: next steps"
    assert "📎 from:" in proposal.summary  # the notes under the headline stay
    await core.say("/status")
    assert f"  {pid}: Email jane@acme.com: Contract renewal: next steps  (/approve {pid}" in core.outbox.texts[-1]


async def test_status_lists_one_line_per_proposal_whatever_notes_it_carries(core: Core) -> None:
    pid = await staged(core, RENEWAL)
    await core.say("/status")
    lines = core.outbox.texts[-1].splitlines()
    assert [line for line in lines if pid in line] == [
        f"  {pid}: Email jane@acme.com: About the contract renewal  (/approve {pid} · /reject {pid})"
    ]
    assert not any(line.startswith("📎") for line in lines)


async def test_a_second_decision_is_told_in_the_right_words_and_names(core: Core) -> None:
    pid = await staged(core)
    await core.say(f"/reject {pid}")
    answers: list[str] = []

    async def answer(text: str, refused: bool) -> None:
        answers.append(text)

    await core.coordinator.click(Click(BOSS, ChatRef("slack", "D1"), APPROVE, Target(pid), "cb1"), answer)
    assert answers == [f"Proposal {pid} was already rejected by the console at 09:14. Nothing changed."]


async def test_memory_words_answer_without_on_it_or_drafting(core: Core) -> None:
    await core.say("/remember ACME pays net 30")
    task_id = core.queue.runs[-1]
    await core.coordinator.handle(cmd.StartTask(task_id))
    await core.coordinator.handle(cmd.CompleteDraft(task_id, Reply("Remembered m1: ACME pays net 30")))
    assert [m.kind for _, _, m in core.outbox.sent] == [Kind.NOTICE]
    assert core.outbox.texts == ["Remembered m1: ACME pays net 30"]
