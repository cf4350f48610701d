"""Committed means shown, on the core with fakes: a card whose post was lost after its commit is shown again by
the job's re-run or the scheduler's pass — once, as an edit of the task's own message."""

from __future__ import annotations

from orchestrator import commands as cmd
from orchestrator.fakes.world import RecordingOutbox
from orchestrator.model import ChatRef
from orchestrator.outbound import Kind, Outbound
from tests.orchestrator.conftest import Core
from tests.orchestrator.test_coordinator import EMAIL
from tests.orchestrator.test_later import scheduler


class LosesCards(RecordingOutbox):
    """The chat platform (or the worker) goes away while the first card is being posted."""

    lost = 0

    async def edit(self, chat: ChatRef, ref: str, message: Outbound) -> None:
        if message.kind is Kind.CARD and not self.lost:
            self.lost += 1
            raise ConnectionError("killed while posting")
        await super().edit(chat, ref, message)


async def lost_card(core: Core) -> str:
    outbox = LosesCards()
    core.coordinator.core.outbox = core.outbox = outbox
    await core.say("email jane@acme.com about invoice 42")
    task_id = core.queue.runs[-1]
    await core.coordinator.handle(cmd.StartTask(task_id))
    await core.coordinator.handle(cmd.CompleteDraft(task_id, EMAIL))
    assert outbox.lost == 1 and await core.store.unshown() == [task_id]
    return task_id


def cards(core: Core) -> list[Outbound]:
    return [m for _, _, m in core.outbox.sent if m.kind is Kind.CARD]


async def test_the_schedulers_pass_shows_a_lost_card_once_in_place(core: Core) -> None:
    task_id = await lost_card(core)
    await scheduler(core).show_pass()
    await scheduler(core).show_pass()
    [card] = cards(core)
    assert card.proposal and card.task_id == task_id and await core.store.unshown() == []
    [(_, ref, _)] = [s for s in core.outbox.sent if s[2] is card]
    assert ref == "m1"  # an edit of the task's "On it…" message, not a new post


async def test_the_jobs_re_run_shows_it_and_a_second_re_run_shows_nothing(core: Core) -> None:
    task_id = await lost_card(core)
    for _ in range(2):
        await core.coordinator.handle(cmd.StartTask(task_id))
    assert len(cards(core)) == 1 and await core.store.unshown() == []
