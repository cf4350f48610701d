"""Playbooks of several actions: the built-in `onboarding` drafts a welcome email, a CRM post and a client note
in one proposal — the CRM post only where a webhook named crm is configured — and a playbook file names its
actions one way or the other, each using fields it declares."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from agents import playbooks
from agents.runner import PlaybookRunner
from agents.schemas import strict
from bot.wiring import Runtime, build_runtime
from orchestrator.model import ProposalDraft, Reply
from tests.agents.test_offline import task
from tests.conftest import settings_from

ONBOARD = "onboard Piotr Kowalski piotr@northwind.example"
KINDS = frozenset({"email.send", "webhook.post", "note.save", "task.later", "record.create", "record.update"})
KINDS |= {"mcp.call", "calendar.event", "email.reply"}


@pytest.fixture
async def crm(env: dict[str, str]) -> AsyncIterator[Runtime]:
    runtime = build_runtime(settings_from({**env, "DEPUTY_WEBHOOKS": "crm=http://127.0.0.1:9/crm"}))
    yield runtime
    await runtime.close()


async def test_onboarding_is_one_proposal_of_a_welcome_email_a_crm_post_and_a_client_note(crm: Runtime) -> None:
    draft = await crm.drafter.draft(task(ONBOARD))
    assert isinstance(draft, ProposalDraft) and draft.playbook == "onboarding"
    (email_kind, email), (post_kind, post), (note_kind, note), (record_kind, record) = draft.actions
    assert (email_kind, post_kind, note_kind) == ("email.send", "webhook.post", "note.save")
    assert record_kind == "record.create"  # issue 26: onboarding creates the client's record too
    assert record == {
        "type": "client",
        "name": "Piotr Kowalski",
        "email": "piotr@northwind.example",
        "status": "active",
    }
    assert email["to"] == "piotr@northwind.example" and email["subject"] == "Welcome, Piotr"
    assert email["body"].startswith("Hi Piotr,\n\nWelcome aboard")
    assert post == {
        "name": "crm",
        "payload": {
            "text": "New client: Piotr Kowalski <piotr@northwind.example>",
            "client": "Piotr Kowalski",
            "email": "piotr@northwind.example",
        },
    }
    assert note["title"] == "Client: Piotr Kowalski" and "piotr@northwind.example" in note["body"]
    assert draft.summary.startswith("Onboard Piotr Kowalski: welcome email, CRM post, client note")


async def test_without_a_crm_webhook_onboarding_is_the_email_and_the_note(runtime: Runtime) -> None:
    draft = await runtime.drafter.draft(task(ONBOARD))
    assert isinstance(draft, ProposalDraft)
    assert [kind for kind, _ in draft.actions] == ["email.send", "note.save", "record.create"]
    assert draft.summary.startswith("Onboard Piotr Kowalski: welcome email, client note")


async def test_the_model_is_not_asked_for_the_fields_of_an_action_left_out(runtime: Runtime, crm: Runtime) -> None:
    asked = []
    for deployment in (runtime, crm):
        assert isinstance(deployment.drafter, PlaybookRunner)
        schema = strict(deployment.drafter.playbooks["onboarding"].draft_model)
        asked.append(list(schema["properties"]["fields"]["properties"]))
    assert asked == [
        ["name", "to", "subject", "body", "note_title", "note"],  # `name` goes to the client's record too
        ["name", "to", "subject", "body", "crm", "note_title", "note"],
    ]


async def test_onboarding_without_an_address_asks_for_one(runtime: Runtime) -> None:
    draft = await runtime.drafter.draft(task("onboard Piotr Kowalski"))
    assert isinstance(draft, Reply) and not draft.ok and "What is the new client's address?" in draft.text


def test_the_staged_actions_give_back_the_fields_they_were_made_from() -> None:
    found = playbooks.load(playbooks.directories(Path("/nonexistent")), KINDS)
    onboarding, webhook = found["onboarding"], found["webhook"]
    fields = {k: f"<{k}>" for k in onboarding.spec.fields}
    assert onboarding.drafted_fields(onboarding.staged(fields)) == fields
    assert webhook.drafted_fields(webhook.staged({"name": "orders", "text": "hi"})) == {"name": "orders", "text": "hi"}


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        (
            "name: x\ndescription: d\naction: note.save\nactions: [{kind: note.save}]\nfields: {title: {}}\n",
            "give either `action:` (and `shape:`) or a list of `actions:`, not both",
        ),
        ("name: x\ndescription: d\nfields: {title: {}}\n", "action: name its kind"),
        (
            "name: x\ndescription: d\nactions: [{kind: note.save, shape: {title: '{tilte}'}}]\nfields: {title: {}}\n",
            "action 1 (note.save) uses ['tilte'], which are not in fields",
        ),
        ("name: x\ndescription: d\nactions: [{kind: sms.send}]\nfields: {title: {}}\n", "'sms.send' is not one"),
    ],
)
def test_a_playbook_names_its_actions_one_way_with_fields_it_declares(tmp_path: Path, text: str, reason: str) -> None:
    (tmp_path / "playbooks").mkdir()
    (tmp_path / "playbooks" / "mine.yaml").write_text(text)
    with pytest.raises(Exception, match=re.escape(reason)):
        playbooks.load(playbooks.directories(tmp_path), KINDS)
