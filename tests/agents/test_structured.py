"""Structured outputs through the real model client over HTTP to the local OpenAI-compatible server: every JSON
step sends its schema where the model takes one (`DEPUTY_LLM_STRUCTURED`: litellm's answer, or on/off), and the
server — like the schema-following one in the issue — answers in a shape of its own when it gets no schema."""

from __future__ import annotations

import json
from email.message import Message
from typing import Any

import pytest
from pydantic import ValidationError

from agents.litellm_lib import litellm
from agents.llm import Call, ResponseCache
from agents.schemas import response_format, strict
from agents.transports import LiteLLMTransport
from config.settings import describe, settings_with
from orchestrator import commands as cmd
from orchestrator.commands import Inbound
from orchestrator.model import ProposalDraft, Reply, Verdict
from tests.agents.conftest import MODEL, Deputy
from tests.conftest import Smtp
from tests.orchestrator.conftest import CONSOLE, ME

HOUSE = "openai/house-model"
"""A name litellm's model list doesn't have: `auto` leaves it on the prompt-described path."""
EMAIL = "email jane@acme.com a follow-up on invoice 42"


async def test_with_a_schema_the_draft_is_valid_at_once_and_the_models_text_is_in_the_email(
    deputy: Deputy, smtp: Smtp
) -> None:
    llm = await deputy(DEPUTY_LLM_MODEL=HOUSE, DEPUTY_LLM_STRUCTURED="on")  # forced on: litellm doesn't know it
    core = llm.runtime.coordinator
    await core.receive(Inbound(actor=ME, chat=CONSOLE, text=EMAIL, event_id="ev1"))
    [task_id] = await llm.runtime.store.ids("task", "received")
    task = await core.handle(cmd.StartTask(task_id))
    draft = await llm.runner.draft(task)
    assert isinstance(draft, ProposalDraft) and llm.server.stats.requests == 1  # valid first time: no repair
    [sent] = llm.server.formats
    assert sent is not None and sent["type"] == "json_schema"
    assert sent["json_schema"]["name"] == "EmailDraft" and sent["json_schema"]["strict"] is True
    await core.handle(cmd.CompleteDraft(task_id, draft))
    [pid] = await llm.runtime.store.ids("proposal", "pending")
    await core.handle(cmd.DecideProposal(proposal_id=pid, actor=ME, verdict=Verdict.APPROVE, chat=CONSOLE))
    await core.handle(cmd.ApplyProposal(pid))
    [mail] = smtp.messages
    assert mail["To"] == "jane@acme.com" and mail["Subject"] == "Following up"
    assert f"Hello from the test model.\n\n{EMAIL}" in _body(mail)


async def test_without_one_the_same_server_draft_fails_validation_after_the_one_repair(deputy: Deputy) -> None:
    llm = await deputy(DEPUTY_LLM_STRUCTURED="off")  # gpt-4o-mini takes schemas; forced off
    draft = await llm.draft(EMAIL)
    assert isinstance(draft, Reply) and not draft.ok and "invalid twice" in draft.text
    assert "fields: Field required" in draft.text and "playbook: Extra inputs are not permitted" in draft.text
    assert llm.server.formats == [{"type": "json_object"}] * 2
    calls = await llm.calls()
    assert [(c.detail["step"], c.detail["structured"]) for c in calls] == [("draft", False), ("repair", False)]


@pytest.mark.parametrize(("model", "takes"), [(MODEL, True), (HOUSE, False)])
async def test_auto_tries_the_schema_first_on_a_server_of_ones_own(deputy: Deputy, model: str, takes: bool) -> None:
    """litellm 1.106 goes by its model list, not by the server behind `api_base`: `openai/gpt-4o-mini` is listed
    with `supports_response_schema`, an unlisted name is not. Behind an API base `auto` finds out instead (issue 25:
    it used to send an unlisted name JSON mode only): this server takes the schema, so both draft validly."""
    name = model.split("/", 1)[1]
    assert litellm().supports_response_schema(model=name, custom_llm_provider="openai") is takes
    llm = await deputy(DEPUTY_LLM_MODEL=model)  # DEPUTY_LLM_STRUCTURED unset: auto
    draft = await llm.draft(EMAIL)
    sent = llm.server.formats[0]
    assert sent is not None and sent["type"] == "json_schema"
    assert isinstance(draft, ProposalDraft)


async def test_the_schema_is_strict_and_validation_still_holds_what_it_leaves_out(deputy: Deputy) -> None:
    llm = await deputy(DEPUTY_LLM_STRUCTURED="on")
    too_sure = {"summary": "s", "confidence": 7, "fields": {"to": "jane@acme.com", "subject": "s", "body": "b"}}
    llm.script({"content": json.dumps(too_sure)})
    draft = await llm.draft(EMAIL)
    assert isinstance(draft, ProposalDraft) and [c.detail["step"] for c in await llm.calls()] == ["draft", "repair"]
    assert "confidence: Input should be less than or equal to 1" in str(llm.server.last_messages[-1]["content"])
    first, repair = llm.server.formats
    assert first == repair and first is not None  # the repair goes with the same schema
    schema = first["json_schema"]["schema"]
    assert schema["required"] == ["summary", "confidence", "fields"] and schema["additionalProperties"] is False
    assert schema["properties"]["fields"]["required"] == ["to", "subject", "body"]
    assert not {"default", "maxLength", "maximum", "$ref", "$defs"} & _keywords(schema)


async def test_litellms_own_translation_of_the_pydantic_class_is_refused_by_a_strict_server(
    deputy: Deputy,
) -> None:
    """Why Deputy sends the schema dict and not the class: for OpenAI, litellm keeps pydantic's defaults."""
    llm = await deputy()
    model = llm.runner.playbooks["email"].draft_model
    ask: dict[str, Any] = {"model": MODEL, "api_base": llm.url, "api_key": "sk-test", "max_retries": 0}
    messages = [{"role": "user", "content": "hi"}]
    with pytest.raises(Exception, match=r"In context=\('properties', 'summary'\), 'default' is not permitted"):
        await litellm().acompletion(messages=messages, response_format=model, **ask)
    done = await litellm().acompletion(messages=messages, response_format=response_format(model), **ask)
    assert set(json.loads(done.choices[0].message.content)) == {"summary", "confidence", "fields"}


async def test_classify_and_verify_send_their_own_schemas(deputy: Deputy) -> None:
    llm = await deputy(DEPUTY_LLM_STRUCTURED="on")
    llm.server.confidence = 0.3  # unsure: the verify tier checks it
    draft = await llm.draft("the contract for jane@acme.com needs a reminder by mail")  # no trigger: classify
    assert isinstance(draft, ProposalDraft) and llm.server.stats.steps == ["classify", "draft", "verify"]
    choice, _, verdict = [f["json_schema"] for f in llm.server.formats if f is not None]
    assert [choice["name"], verdict["name"]] == ["Choice", "Verdict"]
    offered = sorted(name for name, p in llm.runner.playbooks.items() if p.chat)  # never the inbox's
    assert choice["schema"]["properties"]["playbook"]["enum"] == offered and "inbox" not in offered
    assert verdict["schema"]["required"] == ["ok", "problem"]


async def test_the_cache_keeps_answers_with_and_without_a_schema_apart(deputy: Deputy) -> None:
    on, off = await deputy(DEPUTY_LLM_STRUCTURED="on"), await deputy(DEPUTY_LLM_STRUCTURED="off")
    assert isinstance(await on.draft(EMAIL), ProposalDraft)
    assert isinstance(await off.draft(EMAIL, "t2"), Reply)  # not served the schema-shaped answer
    assert isinstance(await on.draft(EMAIL, "t3"), ProposalDraft)
    assert on.server.stats.requests == 3  # draft (schema), draft and repair (none); the third task was a hit
    assert [c.detail["cache_hit"] for c in await on.calls()][-1] is True
    call = Call("t1", "draft", "draft", MODEL, [{"role": "user", "content": "x"}])
    cache = ResponseCache(on.runtime.redis)
    keys = {cache.key(call), cache.key(call, strict(on.runner.playbooks["email"].draft_model))}
    assert len(keys | {cache.key(call, strict(on.runner.playbooks["note"].draft_model))}) == 3


async def test_the_built_in_model_is_never_sent_a_schema(deputy: Deputy) -> None:
    llm = await deputy(DEPUTY_LLM_MODEL="offline/deputy", DEPUTY_LLM_STRUCTURED="on")
    draft = await llm.draft(EMAIL)
    assert isinstance(draft, ProposalDraft) and draft.actions[0][1]["body"].startswith("Hi Jane")
    assert [c.detail["structured"] for c in await llm.calls()] == [False] and llm.server.stats.requests == 0
    assert not LiteLLMTransport(structured="on").sends_schema("offline/deputy")
    assert not llm.runner.models.transport("offline").sends_schema("offline")


def test_the_setting_takes_auto_on_or_off() -> None:
    assert settings_with({}).llm_structured == "auto"
    assert settings_with({"DEPUTY_LLM_STRUCTURED": "off"}).llm_structured == "off"
    with pytest.raises(ValidationError) as caught:
        settings_with({"DEPUTY_LLM_STRUCTURED": "yes"})
    assert describe(caught.value) == (
        "configuration error: DEPUTY_LLM_STRUCTURED: Input should be 'auto', 'on' or 'off' (got 'yes')"
    )


def _body(mail: Message) -> str:
    part = next(p for p in mail.walk() if p.get_content_type() == "text/plain")
    payload = part.get_payload(decode=True)
    assert isinstance(payload, bytes)
    return payload.decode().replace("\r\n", "\n")


def _keywords(node: Any) -> set[str]:
    if isinstance(node, list):
        return set().union(*map(_keywords, node)) if node else set()
    if not isinstance(node, dict):
        return set()
    inner = [v for k, v in node.items() if k != "properties"] + list(node.get("properties", {}).values())
    return set(node) - {"properties"} | _keywords(inner)
