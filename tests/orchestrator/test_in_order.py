"""A proposal of several actions on the in-memory fakes: one approval, applied in order, each exactly once
under its own key; a permanent failure stops the rest (not run) until Run the rest; an action that may not
have been sent stops them until the operator's word."""

from __future__ import annotations

import pytest

from orchestrator import commands as cmd
from orchestrator.core import CoreConfig
from orchestrator.errors import TransientConnectorError
from orchestrator.fakes.connectors import Crashed, FakeConnector
from orchestrator.model import ProposalDraft, TaskStatus
from orchestrator.policies import Policies
from tests.orchestrator.conftest import BOSS, NOTES, WEBHOOK, Core
from tests.orchestrator.test_coordinator import staged
from tests.orchestrator.test_hand_over import replay_agrees

ONBOARD = ProposalDraft(
    playbook="onboard",
    summary="Onboard Jane",
    actions=[
        ("email.send", {"to": "jane@acme.com", "subject": "Welcome", "body": "Hi"}),
        ("webhook.post", {"to": "crm@hooks.example", "subject": "New client"}),
        ("note.save", {"to": "notes@deputy.local", "subject": "Client Jane"}),
    ],
)


@pytest.fixture
def three(core: Core) -> tuple[Core, FakeConnector, FakeConnector]:
    """The core with a webhook and a note connector next to its email one."""
    hook = FakeConnector(kind="webhook.post", resend_safe=True, declared=WEBHOOK)
    note = FakeConnector(kind="note.save", resend_safe=True, declared=NOTES)
    core.rewire({"webhook.post": hook, "note.save": note}, policies=Policies(), undo_seconds=0)
    return core, hook, note


async def approved(core: Core) -> str:
    pid = await staged(core, ONBOARD)
    await core.say(f"/approve {pid}")
    return pid


def keys(*connectors: FakeConnector) -> list[list[str]]:
    return [[k for k, _ in c.delivered] for c in connectors]


async def statuses(core: Core, pid: str) -> list[str]:
    proposal = await core.store.get_proposal(pid)
    assert proposal is not None
    return [a.status.value for a in proposal.actions]


async def test_one_approval_applies_every_action_in_order_each_under_its_own_key(
    three: tuple[Core, FakeConnector, FakeConnector],
) -> None:
    core, hook, note = three
    pid = await approved(core)
    await core.coordinator.handle(cmd.ApplyProposal(pid))
    assert keys(core.email, hook, note) == [[f"{pid}:0"], [f"{pid}:1"], [f"{pid}:2"]]
    assert [e.type for e in core.store.ledger if e.type.startswith("Action")].count("ActionApplied") == 3
    assert core.outbox.texts[-1].startswith(
        "Done: Sent to jane@acme.com; Sent to crm@hooks.example; Sent to notes@deputy.local"
    )


async def test_a_permanent_failure_stops_the_rest_and_the_card_says_what_became_of_each(
    three: tuple[Core, FakeConnector, FakeConnector],
) -> None:
    core, hook, note = three
    pid = await approved(core)
    hook.refuse_next = 1
    await core.coordinator.handle(cmd.ApplyProposal(pid))
    assert keys(core.email, hook, note) == [[f"{pid}:0"], [], []]
    assert await statuses(core, pid) == ["applied", "failed", "not_run"]
    assert core.outbox.texts[-1].splitlines() == [
        "Failed: 1 of 3 actions failed · approved by you 09:14 · $0.00",
        "✓ Sent to jane@acme.com",
        "✗ crm@hooks.example refused it with 400: bad field",
        "– not run: Send 'Client Jane' to notes@deputy.local",
        f"Deputy won't try again on its own; type /retry {pid} to try again.",
    ]
    task = await core.store.get_task(core.queue.runs[0])
    assert task and task.status is TaskStatus.FAILED
    assert replay_agrees(core) == []


async def test_run_the_rest_applies_the_failed_and_the_not_run_once_and_never_resends_the_applied(
    three: tuple[Core, FakeConnector, FakeConnector],
) -> None:
    core, hook, note = three
    pid = await approved(core)
    hook.refuse_next = 1
    await core.coordinator.handle(cmd.ApplyProposal(pid))
    await core.say(f"/retry {pid}", actor=BOSS)
    assert f"Running the rest of {pid}" in core.outbox.texts[-1] and core.queue.applies[-1] == pid
    await core.coordinator.handle(cmd.ApplyProposal(pid))
    await core.coordinator.handle(cmd.ApplyProposal(pid))
    assert keys(core.email, hook, note) == [[f"{pid}:0"], [f"{pid}:1"], [f"{pid}:2"]]
    assert core.outbox.texts[-1].startswith("Done: Sent to jane@acme.com; Sent to crm@hooks.example")
    assert [e.action_index for e in core.store.ledger if e.type == "ActionRetryApproved"] == [1, 2]
    await core.say(f"/retry {pid}", actor=BOSS)
    assert core.outbox.texts[-1] == f"Proposal {pid} is done; there is nothing to run. Nothing changed."
    assert replay_agrees(core) == []


async def test_a_transient_failure_of_the_second_retries_the_job_without_resending_the_first(
    three: tuple[Core, FakeConnector, FakeConnector],
) -> None:
    core, hook, note = three
    pid = await approved(core)
    hook.fail_next = 2
    for _ in range(2):
        with pytest.raises(TransientConnectorError):
            await core.coordinator.handle(cmd.ApplyProposal(pid))
    await core.coordinator.handle(cmd.ApplyProposal(pid))
    assert keys(core.email, hook, note) == [[f"{pid}:0"], [f"{pid}:1"], [f"{pid}:2"]]
    assert core.outbox.texts[-1].startswith("Done:")


async def test_an_action_that_may_not_have_been_sent_stops_the_rest_until_the_operators_word(
    three: tuple[Core, FakeConnector, FakeConnector],
) -> None:
    core, hook, note = three
    core.email.resend_safe = True  # the first goes through; the one that can't be re-sent is the second
    hook.resend_safe = False
    pid = await approved(core)
    hook.crash_next = "after"
    with pytest.raises(Crashed):
        await core.coordinator.handle(cmd.ApplyProposal(pid))
    await core.coordinator.handle(cmd.ApplyProposal(pid))
    assert await statuses(core, pid) == ["applied", "uncertain", "applying"]
    assert core.outbox.texts[-1].splitlines()[1:4] == [
        "✓ Sent to jane@acme.com",
        "⚠ may not have been sent: Send 'New client' to crm@hooks.example",
        "… waits for your word on the one above: Send 'Client Jane' to notes@deputy.local",
    ]
    await core.say(f"/sent {pid} 2", actor=BOSS)
    await core.coordinator.handle(cmd.ApplyProposal(pid))
    assert keys(core.email, hook, note) == [[f"{pid}:0"], [f"{pid}:1"], [f"{pid}:2"]]
    assert core.outbox.texts[-1].startswith("Done: Sent to jane@acme.com; Send 'New client' to crm@hooks.example")
    assert replay_agrees(core) == []


async def test_the_undo_window_holds_the_whole_proposal(three: tuple[Core, FakeConnector, FakeConnector]) -> None:
    core, hook, note = three
    core.coordinator.core.config = CoreConfig(
        operators=frozenset({BOSS.id}), policies=Policies(undoable=frozenset({"email.send"})), undo_seconds=20
    )
    pid = await approved(core)
    await core.coordinator.handle(cmd.ApplyProposal(pid))
    await core.say(f"/undo {pid}")
    core.clock.advance(30)
    await core.coordinator.handle(cmd.ApplyProposal(pid))
    assert keys(core.email, hook, note) == [[], [], []]
    assert "Nothing was sent" in core.outbox.texts[-1]
