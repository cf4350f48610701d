"""Button presses: one decision per press event, and the presser always gets one short answer — first."""

from __future__ import annotations

from orchestrator.buttons import APPROVE, REJECT, UNDO, Click, Target
from orchestrator.model import ChatRef, ProposalStatus
from tests.orchestrator.conftest import BOSS, STRANGER, Core
from tests.orchestrator.test_coordinator import staged

CHAT = ChatRef("slack", "D1")


class Answers:
    def __init__(self, core: Core) -> None:
        self.core, self.texts = core, list[str]()
        self.edits_before: list[int] = []

    async def __call__(self, text: str, refused: bool) -> None:
        self.texts.append(text)
        self.edits_before.append(len(self.core.outbox.sent))


async def test_approve_is_answered_before_the_card_is_redrawn(core: Core) -> None:
    pid = await staged(core)
    answers, shown = Answers(core), len(core.outbox.sent)
    await core.coordinator.click(Click(BOSS, CHAT, APPROVE, Target(pid), "cb1"), answers)
    assert answers.texts == [f"Approved {pid}."]
    assert answers.edits_before == [shown]  # nothing redrawn yet when the answer went out
    assert len(core.outbox.sent) > shown and core.queue.applies == [pid]


async def test_the_same_press_delivered_twice_counts_once(core: Core) -> None:
    pid = await staged(core)
    answers = Answers(core)
    await core.coordinator.click(Click(BOSS, CHAT, REJECT, Target(pid), "cb1"), answers)
    await core.coordinator.click(Click(BOSS, CHAT, REJECT, Target(pid), "cb1"), answers)
    assert answers.texts == [f"Rejected {pid}."]


async def test_late_and_foreign_presses_change_nothing_and_say_why(core: Core) -> None:
    pid = await staged(core)
    answers = Answers(core)
    await core.coordinator.click(Click(STRANGER, CHAT, APPROVE, Target(pid), "cb0"), answers)
    proposal = await core.store.get_proposal(pid)
    assert proposal and proposal.status is ProposalStatus.PENDING
    await core.coordinator.click(Click(BOSS, CHAT, APPROVE, Target(pid), "cb1"), answers)
    await core.coordinator.click(Click(BOSS, CHAT, REJECT, Target(pid), "cb2"), answers)
    assert answers.texts[0].startswith("You can't approve or reject proposals")
    assert answers.texts[2].startswith(f"Proposal {pid} was already approved by sam at ")
    assert core.queue.applies == [pid]


async def test_undo_press_is_answered(core: Core) -> None:
    answers = Answers(core)
    await core.coordinator.click(Click(BOSS, CHAT, UNDO, Target("nope"), "cb9"), answers)
    assert answers.texts == ["No proposal with id 'nope'. /status lists the pending ones."]
