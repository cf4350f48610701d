"""A hook's task drafted by code where it came in (the inbox's reply, `receive_hook(drafter=…)`): submitted,
started and staged in one commit, its card the task's first and only message, and no worker's job; the same
delivery again makes no second task or card; a draft its connector refuses fails the task, said at once."""

from __future__ import annotations

from dataclasses import replace

from orchestrator.model import ProposalDraft, TaskStatus
from orchestrator.outbound import Kind
from tests.orchestrator.conftest import CONSOLE, Core
from tests.orchestrator.test_coordinator import EMAIL


async def hook(core: Core, delivery: str, draft: ProposalDraft = EMAIL) -> str:
    return await core.coordinator.receive_hook(
        name="@inbox", body='{"x": 1}', delivery=delivery, chat=CONSOLE, drafter=lambda name, text: draft
    )


async def test_the_card_is_the_first_message_and_no_job_is_queued(core: Core) -> None:
    task_id = await hook(core, "d1")
    assert await hook(core, "d1") == task_id and core.queue.runs == []
    assert [m.kind for _, _, m in core.outbox.sent] == [Kind.CARD]
    task = await core.store.get_task(task_id)
    assert task and task.status is TaskStatus.PROPOSED and task.proposal_id
    assert [e.type for e in core.store.ledger] == ["TaskSubmitted", "TaskStarted", "ProposalStaged"]
    assert await core.store.unshown() == []


async def test_a_draft_its_connector_refuses_fails_the_task_at_once(core: Core) -> None:
    bad = replace(EMAIL, actions=[("email.send", {"to": "nobody", "subject": "s", "body": "b"})])
    task = await core.store.get_task(await hook(core, "d2", bad))
    assert task and task.status is TaskStatus.FAILED and core.queue.runs == []
    assert [m.kind for _, _, m in core.outbox.sent] == [Kind.ERROR]


async def test_the_id_the_take_reserved_is_the_tasks_and_handling_it_again_makes_no_second(core: Core) -> None:
    """bot/sources `take` reserves the task's id with the stored delivery; the core uses it without a lookup,
    and the stored copy handled again (after a crash) finds the task instead of staging a second card."""

    async def again() -> str:
        return await core.coordinator.receive_hook(
            name="@inbox", body='{"x": 1}', delivery="d3", chat=CONSOLE, drafter=lambda n, t: EMAIL, task_id="tkept1"
        )

    assert await again() == "tkept1" and await again() == "tkept1"
    assert [m.kind for _, _, m in core.outbox.sent] == [Kind.CARD]
    assert [e.type for e in core.store.ledger].count("TaskSubmitted") == 1
