"""A scripted week of proposals, made by the model's own methods so every event is a real one: the stats tests
fold it in memory, commit it to Redis and read it back through every surface. The expected figures are
worked out by hand below, next to the stories they come from."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from orchestrator import events as ev
from orchestrator.model import ActionStatus, Actor, ChatRef, Decision, Proposal, StagedAction, Task, Verdict

CONSOLE = ChatRef("console", "local")
ME = Actor("console", "op", "you")
NOTES_RULE = Actor("policy", "notes-always", "rule notes-always")
COST = 0.01
"""Each story's one model call."""


class ProposalRevised(ev.Event):
    """A stand-in for the revise feature's event (being built elsewhere): the stats count it by its name."""


class ActionUncertain(ev.Event):
    """Another engineer's new event the stats don't know: it counts as nothing."""


NEW_EVENTS: dict[str, type[ev.Event]] = {"ProposalRevised": ProposalRevised, "ActionUncertain": ActionUncertain}
"""What a test registers with the codec before committing the week to Redis, as those features will."""


@dataclass
class Story:
    task: Task
    proposal: Proposal
    at: datetime
    events: list[ev.Event] = field(default_factory=list)

    def later(self, seconds: float) -> datetime:
        self.at += timedelta(seconds=seconds)
        return self.at

    def decide(self, verdict: Verdict, after_s: float, by: Actor = ME) -> Story:
        decision = Decision(verdict, by, self.later(after_s), self.proposal.version)
        self.events.append(self.task.decide(self.proposal, decision))
        return self

    def apply(self, *, ok: bool = True) -> Story:
        applying = self.task.applying(self.later(1))
        assert applying is not None
        self.events += [applying, self.proposal.action_moved(0, ActionStatus.APPLYING, self.at)]
        if ok:
            self.events.append(self.proposal.action_moved(0, ActionStatus.APPLIED, self.at, "done"))
            self.events.append(self.task.finish(self.at, "done"))
        else:
            self.events.append(self.proposal.action_moved(0, ActionStatus.FAILED, self.at, "the receiver said 500"))
            self.events.append(self.task.fail("the receiver said 500", self.at))
        return self

    def edit(self, after_s: float) -> Story:
        first = self.proposal.actions[0]
        changed = StagedAction(first.kind, {**first.fields, "subject": "Changed"}, first.summary, first.target)
        self.events.append(self.proposal.edit(0, changed, ME, self.later(after_s)))
        return self

    def revise(self, after_s: float) -> Story:
        self.proposal.version += 1
        at = self.later(after_s)
        tid, pid = self.task.id, self.proposal.id
        self.events.append(ProposalRevised(at=at, task_id=tid, proposal_id=pid, actor=ME.id, detail={"v": 2}))
        return self

    def undo(self, after_s: float) -> Story:
        self.events.append(self.task.undo(self.proposal, ME, self.later(after_s)))
        return self

    def expire(self, after_s: float) -> Story:
        self.events.append(self.task.expire(self.proposal, self.later(after_s), "no answer in 48 h"))
        return self


def story(
    n: int, at: datetime, kind: str = "email.send", *, flagged: bool = False, also: tuple[str, ...] = ()
) -> Story:
    """Submitted, drafted (one priced model call) and staged at `at`; `also`: more actions after the first."""
    playbook, target = {"email.send": ("email", f"c{n}@example.com"), "note.save": ("note", "notes")}.get(
        kind, ("webhook", "crm")
    )
    task = Task(f"tweek{n:03d}", f"{playbook} request {n}", ME, CONSOLE, f"ev-week-{n}", at)
    fields = {"to": target, "subject": f"Invoice {n}", "body": "Hello"}
    action = StagedAction(kind, fields, f"{kind} to {target}", target)
    more = [StagedAction(other, {}, other, "elsewhere") for other in also]
    summary = f"{playbook} {n}" + ("\n⚠ Verifier: the amount is a guess" if flagged else "")
    actions = [action, *more]
    pid = f"pweek{n:03d}"
    proposal = Proposal(pid, task.id, CONSOLE, playbook, summary, actions, at, flagged=flagged)
    proposal.drafted = copy.deepcopy(actions)
    called = ev.ModelCalled(at=at, task_id=task.id, cost_usd=COST, summary="draft", detail={"model": "offline"})
    return Story(task, proposal, at, [task.submitted(at), task.start(at), called, task.propose(proposal, at)])


def replied(n: int, at: datetime) -> tuple[Task, list[ev.Event]]:
    task = Task(f"tweek{n:03d}", "what is ACME's billing address?", ME, CONSOLE, f"ev-week-{n}", at)
    return task, [task.submitted(at), task.start(at), task.answer("12 Main St", at)]


def scripted_week(start: datetime) -> list[Story]:
    """Thirteen proposals over six days, plus one unknown event type (it counts as nothing)."""
    day = timedelta(days=1)
    A, R = Verdict.APPROVE, Verdict.REJECT
    stories = [
        story(1, start).decide(A, 120).apply(),  # as drafted, 2 min
        story(2, start + day).decide(A, 240).apply(),  # as drafted, 4 min
        story(3, start + day).decide(A, 600).apply(),  # as drafted, 10 min
        story(4, start + 2 * day).edit(300).decide(A, 300).apply(),  # edited, decided after 10 min
        story(5, start + 2 * day).revise(900).decide(A, 900).apply(),  # revised (caught), 30 min
        story(6, start + 3 * day).decide(R, 60),  # rejected (caught), 1 min
        story(7, start + 3 * day).decide(A, 300).undo(5),  # undone, 5 min
        story(8, start + 4 * day).expire(48 * 3600),  # expired: nobody decided
        story(9, start + 4 * day, "note.save").decide(A, 0, NOTES_RULE).apply(),  # auto-approved
        story(10, start + 5 * day, "note.save").decide(A, 0, NOTES_RULE).apply(),  # auto-approved
        story(11, start + 5 * day, "webhook.post").decide(A, 900).apply(ok=False),  # failed, 15 min
        story(12, start + 6 * day, flagged=True).decide(A, 180).apply(),  # as drafted but doubted (caught), 3 min
        story(13, start + 6 * day),  # still pending
    ]
    first = stories[0]
    first.events.append(
        ActionUncertain(at=first.at, task_id=first.task.id, proposal_id=first.proposal.id, action_index=0)
    )
    return stories


EXPECTED_TOTALS = {
    "proposed": 13,
    "approved_as_drafted": 6,  # stories 1, 2, 3, 9, 10, 12
    "approved_after_change": 2,  # 4 (edited), 5 (revised)
    "rejected": 1,
    "undone": 1,
    "expired": 1,
    "failed": 1,
    "pending": 1,
    "caught": 3,  # 5 revised, 6 rejected, 12 doubted by the verifier
    "minutes_saved": 34.0,  # emails 1, 2, 3, 12 at 6; emails 4, 5 changed at 3; notes 9, 10 at 2; the webhook failed
    "median_decision_s": 300.0,  # of 60, 120, 180, 240, 300, 600, 600, 900, 1800 (auto-approvals take no one's time)
    "auto_approved": {"notes-always": 2},
}
EXPECTED_EMAIL = {
    "proposed": 10,
    "approved_as_drafted": 4,
    "approved_after_change": 2,
    "rejected": 1,
    "undone": 1,
    "expired": 1,
    "failed": 0,
    "pending": 1,
    "caught": 3,
    "minutes_saved": 30.0,
    "median_decision_s": 270.0,  # of 60, 120, 180, 240, 300, 600, 600, 1800
    "auto_approved": {},
}
EXPECTED_COST = 13 * COST
