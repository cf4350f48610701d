"""The offline model's playbooks are deterministic (CONTRACT.md, "The built-in offline model")."""

from __future__ import annotations

from agents.offline import OfflineDrafter
from orchestrator.fakes import InMemoryFacts
from orchestrator.model import ProposalDraft, Reply, Task
from tests.orchestrator.conftest import CONSOLE, ME
from tests.orchestrator.test_model import NOW


def task(text: str) -> Task:
    return Task(id="t1", text=text, actor=ME, chat=CONSOLE, event_id="e", created_at=NOW)


async def test_email_request_drafts_subject_and_body() -> None:
    draft = await OfflineDrafter(InMemoryFacts(), sender_name="Sam").draft(
        task("email jane@acme.com a follow-up on invoice 42")
    )
    assert isinstance(draft, ProposalDraft)
    [(kind, fields)] = draft.actions
    assert kind == "email.send" and fields["to"] == "jane@acme.com"
    assert fields["subject"] == "Follow-up on invoice 42"
    assert fields["body"].startswith("Hi Jane,\n\nI wanted to follow up on invoice 42.") and "Sam" in fields["body"]


async def test_same_request_same_draft() -> None:
    drafter = OfflineDrafter(InMemoryFacts())
    assert await drafter.draft(task("email a@b.co about x")) == await drafter.draft(task("email a@b.co about x"))


async def test_email_without_address_asks_for_one() -> None:
    draft = await OfflineDrafter(InMemoryFacts()).draft(task("email jane about the invoice"))
    assert isinstance(draft, Reply) and not draft.ok and "Who should I email" in draft.text


async def test_remember_recall_forget() -> None:
    drafter = OfflineDrafter(InMemoryFacts())
    assert (await drafter.draft(task("remember ACME pays net 30"))).text == "Remembered (f1): ACME pays net 30"  # type: ignore[union-attr]
    answer = await drafter.draft(task("when does ACME pay?"))
    assert isinstance(answer, Reply) and "ACME pays net 30" in answer.text
    assert (await drafter.draft(task("forget f1"))).text == "Forgot f1: ACME pays net 30"  # type: ignore[union-attr]


async def test_anything_else_is_a_plan_with_a_note() -> None:
    draft = await OfflineDrafter(InMemoryFacts()).draft(task("organise the team offsite"))
    assert isinstance(draft, ProposalDraft) and draft.actions[0][0] == "note.save"
    assert draft.summary.startswith("Plan for: organise the team offsite")
