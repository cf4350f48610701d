"""The agent's side of /revise: the revision is drafted in the playbook's schema from the current draft and the
feedback, validated like any draft (a new recipient only from the request, memory, the draft or the feedback;
the same kinds of action), one repair, a model call on the ledger — and the offline model reads plain feedback."""

from __future__ import annotations

import json
from typing import Any

import pytest

from agents.rewrites import revise as offline_revise
from bot.wiring import Runtime
from orchestrator.errors import BudgetExceeded
from orchestrator.model import Proposal, ProposalDraft, Reply, Task
from orchestrator.outbound import money
from tests.agents.conftest import Deputy, Llm
from tests.agents.test_offline import task
from tests.orchestrator.test_model import NOW

EMAIL = "email jane@acme.com a follow-up on invoice 42"
ASK = "Please let me know if you have any questions."
BODY = f"Hi Jane,\n\nI wanted to follow up on invoice 42. It is due on Friday.\n\n{ASK}\n\nBest regards,\nSam\n"
FIELDS = {"to": "jane@acme.com", "subject": "Invoice 42", "body": BODY}
DRAFT: dict[str, Any] = {"summary": "Email jane@acme.com: Invoice 42", "fields": FIELDS}


async def proposal_of(runtime: Runtime, request: Task) -> Proposal:
    """What the first draft would stage, as the revision finds it."""
    draft = await runtime.drafter.draft(request)
    assert isinstance(draft, ProposalDraft)
    actions = [runtime.coordinator.core.stage(kind, fields) for kind, fields in draft.actions]
    return Proposal("p1", request.id, request.chat, draft.playbook, draft.summary, actions, NOW)


@pytest.mark.parametrize(
    ("feedback", "field", "expected"),
    [
        ("shorter", "body", "Hi Jane,\n\nI wanted to follow up on invoice 42.\n\nBest regards,\nSam\n"),
        ("more formal", "body", BODY.replace("Hi Jane", "Dear Jane").replace("Best regards", "Kind regards")),
        ("subject: Invoice 42 is overdue", "subject", "Invoice 42 is overdue"),
        ("to maria@acme.com", "to", "maria@acme.com"),
    ],
)
def test_the_offline_model_applies_plain_feedback(feedback: str, field: str, expected: str) -> None:
    assert offline_revise(DRAFT, feedback)["fields"][field] == expected


def test_mention_and_add_put_the_words_in_the_body_before_the_sign_off() -> None:
    body = offline_revise(DRAFT, "mention the late fee; add a payment link is on the invoice")["fields"]["body"]
    assert body.endswith(
        "I also wanted to mention the late fee.\n\nA payment link is on the invoice.\n\n"
        "Please let me know if you have any questions.\n\nBest regards,\nSam\n"
    )
    casual = offline_revise(
        {"fields": {**FIELDS, "body": "Dear Jane,\n\nHello.\n\nKind regards,\nSam\n"}}, "less formal"
    )
    assert casual["fields"]["body"] == "Hi Jane,\n\nHello.\n\nBest,\nSam\n"


def test_feedback_it_cant_read_is_a_question() -> None:
    assert "I couldn't tell what to change from “make it pop”" in offline_revise(DRAFT, "make it pop")["question"]


async def test_a_revision_to_an_address_from_the_feedback_is_valid_and_costs_a_model_call(runtime: Runtime) -> None:
    request = task(EMAIL)
    proposal = await proposal_of(runtime, request)
    revised = await runtime.drafter.revise(request, proposal, "to maria@acme.com, shorter")
    assert isinstance(revised, ProposalDraft)
    [(kind, fields)] = revised.actions
    assert (
        kind == "email.send" and fields["to"] == "maria@acme.com" and revised.summary.startswith("Email maria@acme.com")
    )
    steps = [e.detail["step"] for _, e in await runtime.ledger.read() if e.type == "ModelCalled"]
    assert steps == ["draft", "revise"]


async def test_a_model_that_swaps_the_recipient_is_refused_after_one_repair(llm: Llm) -> None:
    request = task(EMAIL)
    proposal = await proposal_of(llm.runtime, request)
    swapped = {
        "summary": "s",
        "confidence": 0.9,
        "fields": {"to": "evil@attacker.example", "subject": "s", "body": "b"},
    }
    llm.script({"content": json.dumps(swapped)}, {"content": json.dumps(swapped)})
    revised = await llm.runner.revise(request, proposal, "warmer")
    assert isinstance(revised, Reply) and not revised.ok
    assert "'evil@attacker.example' appears in neither" in revised.text
    calls = await llm.calls()
    assert [c.detail["step"] for c in calls][-2:] == ["revise", "repair"]
    assert revised.cost_usd == pytest.approx(sum(c.cost_usd for c in calls[-2:])) and money(revised.cost_usd) != "$0.00"


async def test_a_proposal_its_playbook_no_longer_stages_is_not_revised(runtime: Runtime) -> None:
    request = task(EMAIL)
    proposal = await proposal_of(runtime, request)
    proposal.playbook = "onboarding"  # an email alone is not what onboarding stages
    revised = await runtime.drafter.revise(request, proposal, "shorter")
    assert isinstance(revised, Reply) and "not those of playbook onboarding" in revised.text


async def test_a_revision_is_held_to_todays_budget(deputy: Deputy) -> None:
    llm = await deputy(DEPUTY_DAILY_BUDGET_USD="0")
    request = task(EMAIL)
    core = llm.runtime.coordinator.core
    staged = core.stage("email.send", {"to": "jane@acme.com", "subject": "Invoice 42", "body": BODY})
    proposal = Proposal("p1", request.id, request.chat, "email", "Email jane@acme.com: Invoice 42", [staged], NOW)
    with pytest.raises(BudgetExceeded):  # the job turns it into a reply on the card: nothing is revised
        await llm.runner.revise(request, proposal, "shorter")
    assert llm.server.stats.requests == 0


def test_add_that_drops_the_that_and_formal_replaces_a_casual_sign_off() -> None:
    from agents.rewrites import FORMAL, _substituted, added

    assert "\n\nThe draft is attached.\n\n" in added("that the draft is attached")("Hi Jane,\n\nText.\n\nBest,\nSam")
    assert _substituted(FORMAL)("Hi Jane,\n\nText.\n\nBest,\nSam").endswith("Kind regards,\nSam")
