from __future__ import annotations

import pytest

from orchestrator.errors import InvalidTransition
from orchestrator.fakes.world import FakeClock
from orchestrator.model import (
    ActionStatus,
    Decision,
    Proposal,
    ProposalStatus,
    StagedAction,
    Task,
    TaskStatus,
    Verdict,
)
from tests.orchestrator.conftest import CONSOLE, ME

NOW = FakeClock().now()


def make_task() -> Task:
    return Task(id="t1", text="email x", actor=ME, chat=CONSOLE, event_id="e1", created_at=NOW)


def make_proposal() -> Proposal:
    action = StagedAction(kind="email.send", fields={"to": "a@b.co"}, summary="Send", target="a@b.co")
    return Proposal(
        id="p1", task_id="t1", chat=CONSOLE, playbook="email", summary="s", actions=[action], created_at=NOW
    )


def test_task_walks_the_happy_path_and_each_step_is_an_event() -> None:
    task, proposal = make_task(), make_proposal()
    events = [task.start(NOW), task.propose(proposal, NOW)]
    task.decide(proposal, Decision(Verdict.APPROVE, ME, NOW, 1))
    applying = task.applying(NOW)
    assert applying is not None and task.applying(NOW) is None  # entering APPLYING twice records it once
    events += [applying, task.finish(NOW, "sent")]
    assert task.status is TaskStatus.DONE
    assert [e.type for e in events] == ["TaskStarted", "ProposalStaged", "TaskApplying", "TaskDone"]


@pytest.mark.parametrize("status", [TaskStatus.DONE, TaskStatus.FAILED, TaskStatus.REJECTED])
def test_terminal_task_refuses_to_start_again(status: TaskStatus) -> None:
    task = make_task()
    task.status = status
    with pytest.raises(InvalidTransition):
        task.start(NOW)


def test_received_task_cannot_jump_to_done() -> None:
    with pytest.raises(InvalidTransition, match="received to done"):
        make_task().finish(NOW, "x")


def test_second_decision_is_an_illegal_transition_and_keeps_the_first() -> None:
    proposal = make_proposal()
    first = Decision(Verdict.APPROVE, ME, NOW, 1)
    event = proposal.decide(first)
    assert event.type == "ProposalApproved" and event.task_status == "approved"
    with pytest.raises(InvalidTransition):
        proposal.decide(Decision(Verdict.REJECT, ME, NOW, 1))
    assert proposal.status is ProposalStatus.APPROVED and proposal.decision == first


def test_action_cannot_be_applied_twice() -> None:
    proposal = make_proposal()
    proposal.action_moved(0, ActionStatus.APPLYING, NOW)
    proposal.action_moved(0, ActionStatus.APPLIED, NOW, "Sent")
    with pytest.raises(InvalidTransition):
        proposal.action_moved(0, ActionStatus.APPLIED, NOW, "Sent again")
    assert proposal.settled


def test_a_decision_moves_the_task_and_its_proposal_together_in_one_event() -> None:
    task, proposal = make_task(), make_proposal()
    task.start(NOW)
    task.propose(proposal, NOW)
    event = task.decide(proposal, Decision(Verdict.REJECT, ME, NOW, 1))
    assert event.type == "ProposalRejected" and event.task_status == "rejected" and event.proposal_status == "rejected"
    assert task.status is TaskStatus.REJECTED and proposal.status is ProposalStatus.REJECTED


def test_a_task_that_cannot_move_leaves_its_proposal_undecided() -> None:
    task, proposal = make_task(), make_proposal()  # the task was never proposed: it can't be approved
    with pytest.raises(InvalidTransition):
        task.decide(proposal, Decision(Verdict.APPROVE, ME, NOW, 1))
    assert proposal.status is ProposalStatus.PENDING and proposal.decision is None


def test_a_task_decides_only_its_own_proposal() -> None:
    task, other = make_task(), make_proposal()
    task.start(NOW)
    task.propose(make_proposal(), NOW)
    other.task_id = "t2"
    with pytest.raises(InvalidTransition, match="belongs to task t2"):
        task.decide(other, Decision(Verdict.APPROVE, ME, NOW, 1))
    assert task.status is TaskStatus.PROPOSED and other.status is ProposalStatus.PENDING
