"""A task that would pass today's budget pauses, and the operator gets exactly one question per cap level —
however many tasks pause, at once or not, and even when the process dies right after the pause."""

from __future__ import annotations

import asyncio

import pytest

from orchestrator import commands as cmd
from orchestrator.fakes.connectors import Crashed, FakeConnector
from orchestrator.kinds import Preview
from orchestrator.model import ChatRef, Proposal, TaskStatus
from orchestrator.outbound import Outbound
from orchestrator.policies import BUDGET_PLAYBOOK
from tests.orchestrator.conftest import BUDGET, Core

DATE = "2026-11-03"


@pytest.fixture(autouse=True)
def budget_connector(core: Core) -> None:
    raise_it = FakeConnector(kind="budget.raise", resend_safe=True, declared=BUDGET)
    raise_it.validate = lambda fields: dict(fields)  # type: ignore[method-assign]
    raise_it.preview = lambda fields: Preview(summary="Raise today's budget", target="Deputy")  # type: ignore[method-assign]
    core.rewire({"budget.raise": raise_it})


async def running(core: Core, n: int) -> list[str]:
    ids = []
    for i in range(n):
        await core.say(f"email jane@acme.com about invoice {i}")
        ids.append(core.queue.runs[-1])
        assert await core.coordinator.handle(cmd.StartTask(ids[-1]))
    return ids


def pause(task_id: str, cap: float = 0.05) -> cmd.PauseTask:
    return cmd.PauseTask(task_id=task_id, spent_usd=cap, cap_usd=cap, date=DATE)


async def questions(core: Core) -> list[Proposal]:
    pending = [await core.store.get_proposal(p) for p in await core.store.ids("proposal", "pending")]
    return [p for p in pending if p is not None and p.playbook == BUDGET_PLAYBOOK]


async def statuses(core: Core, ids: list[str]) -> list[TaskStatus]:
    return [t.status for t in [await core.store.get_task(i) for i in ids] if t is not None]


async def test_tasks_pausing_one_after_another_get_one_question_on_a_card(core: Core) -> None:
    ids = await running(core, 3)
    for task_id in ids:
        await core.coordinator.handle(pause(task_id))
    [question] = await questions(core)
    assert question.actions[0].kind == "budget.raise" and question.risk == "high"
    assert await statuses(core, ids) == [TaskStatus.PAUSED] * 3
    cards = [m for _, _, m in core.outbox.sent if m.proposal is not None and m.proposal.id == question.id]
    assert len(cards) == 1 and cards[0].text.startswith("Today's model budget is used up: $0.0500 of $0.05.")


async def test_tasks_pausing_at_once_get_one_question(core: Core) -> None:
    ids = await running(core, 4)
    await asyncio.gather(*(core.coordinator.handle(pause(t)) for t in ids))
    assert len(await questions(core)) == 1
    assert await statuses(core, ids) == [TaskStatus.PAUSED] * 4


async def test_a_crash_right_after_the_pause_still_leaves_the_question(
    core: Core, monkeypatch: pytest.MonkeyPatch
) -> None:
    first, second = await running(core, 2)

    async def died(chat: ChatRef, message: Outbound) -> str | None:
        raise Crashed("the worker died before it said anything")

    monkeypatch.setattr(core.outbox, "send", died)
    monkeypatch.setattr(core.outbox, "edit", died)
    with pytest.raises(Crashed):
        await core.coordinator.handle(pause(first))
    monkeypatch.undo()
    assert len(await questions(core)) == 1  # committed with the pause, before anything was said
    await core.coordinator.handle(pause(second))
    assert len(await questions(core)) == 1


async def test_a_higher_cap_asks_again(core: Core) -> None:
    first, second = await running(core, 2)
    await core.coordinator.handle(pause(first, 0.05))
    await core.coordinator.handle(pause(second, 0.06))
    assert len(await questions(core)) == 2
