"""The offline model's playbooks are deterministic (CONTRACT.md, "The built-in offline model"), and run the
same steps a real model does: the ledger records each call, at $0."""

from __future__ import annotations

from bot.wiring import Runtime
from orchestrator.model import ProposalDraft, Reply, Task
from orchestrator.words import memory_ask
from tests.orchestrator.conftest import CONSOLE, ME
from tests.orchestrator.test_model import NOW


def task(text: str, task_id: str = "t1") -> Task:
    return Task(id=task_id, text=text, actor=ME, chat=CONSOLE, event_id="e", created_at=NOW, memory=memory_ask(text))


async def test_email_request_drafts_subject_and_body(runtime: Runtime) -> None:
    draft = await runtime.drafter.draft(task("email jane@acme.com a follow-up on invoice 42"))
    assert isinstance(draft, ProposalDraft)
    [(kind, fields)] = draft.actions
    assert kind == "email.send" and fields["to"] == "jane@acme.com"
    assert fields["subject"] == "Follow-up on invoice 42"
    assert fields["body"].startswith("Hi Jane,\n\nI wanted to follow up on invoice 42.")
    assert fields["body"].rstrip().endswith("Sam Operator")  # the sender's name from DEPUTY_EMAIL_FROM
    assert draft.cost_spent_usd == 0.0


async def test_same_request_same_draft_each_call_on_the_ledger_at_zero(runtime: Runtime) -> None:
    """The built-in model is deterministic and free, so it isn't cached (a cache would only add round trips)."""
    first = await runtime.drafter.draft(task("email a@b.co about x"))
    second = await runtime.drafter.draft(task("email a@b.co about x", "t2"))
    assert first == second
    calls = [e for _, e in await runtime.ledger.read() if e.type == "ModelCalled"]
    assert [(c.task_id, c.detail["step"], c.detail["cache_hit"], c.cost_usd) for c in calls] == [
        ("t1", "draft", False, 0.0),
        ("t2", "draft", False, 0.0),
    ]


async def test_email_without_address_asks_for_one(runtime: Runtime) -> None:
    draft = await runtime.drafter.draft(task("email jane about the invoice"))
    assert isinstance(draft, Reply) and not draft.ok and "Who should I email" in draft.text


async def test_remember_recall_forget(runtime: Runtime) -> None:
    remembered = await runtime.drafter.draft(task("remember ACME pays net 30"))
    assert isinstance(remembered, Reply) and remembered.text == "Remembered m1: ACME pays net 30"
    answer = await runtime.drafter.draft(task("when does ACME pay?"))
    assert isinstance(answer, Reply) and "ACME pays net 30" in answer.text
    forgot = await runtime.drafter.draft(task("forget m1"))
    assert isinstance(forgot, Reply) and forgot.text.startswith("Forgot m1: “ACME pays net 30”")
    after = await runtime.drafter.draft(task("when does ACME pay?"))
    assert isinstance(after, Reply) and "ACME pays net 30" not in after.text


async def test_anything_else_is_a_plan_with_a_note(runtime: Runtime) -> None:
    draft = await runtime.drafter.draft(task("organise the team offsite"))
    assert isinstance(draft, ProposalDraft) and draft.actions[0][0] == "note.save"
    assert draft.summary.startswith("Plan for: organise the team offsite")


async def test_offline_is_also_a_litellm_custom_provider_with_the_same_answers(runtime: Runtime) -> None:
    from agents.offline_provider import MODEL, register
    from agents.transports import litellm

    direct = await runtime.drafter.draft(task("email jane@acme.com about the contract"))
    register(runtime.drafter.models.transport("offline").model)  # type: ignore[attr-defined]
    lib = litellm()
    messages = [
        {"role": "system", "content": "Step: classify"},
        {"role": "user", "content": "<request>\nemail a@b.co\n</request>"},
    ]
    response = await lib.acompletion(model=MODEL, messages=messages)
    assert response.choices[0].message.content == '{"playbook": "email"}'
    assert lib.completion_cost(completion_response=response) == 0.0
    assert isinstance(direct, ProposalDraft)
