"""/revise end to end on the console, with real worker processes: the offline model applies plain feedback, a model
over HTTP (the local OpenAI-compatible server, `openai/…`) gets the request, the current draft and the
feedback; either way the card comes back as the next version ("v2 · revised: …"), the revision is a model call in
the ledger with its cost on the card, and the email that is approved and sent is the revised one."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.wiring import Runtime, build_runtime
from orchestrator.outbound import money
from tests.agents.conftest import MODEL, llm_env
from tests.conftest import Smtp, Workers, deputy, settings_from
from tests.e2e.helpers import converse, proposal_id
from tests.fakes.openai_api import FakeOpenAI

ASK = "email jane@acme.com about invoice 42"


def body(smtp: Smtp) -> str:
    [message] = smtp.messages
    payload = message.get_payload(decode=True)
    assert isinstance(payload, bytes)
    return payload.decode()


async def test_offline_revise_redraws_the_card_and_the_revised_email_is_sent(
    runtime: Runtime, workers: Workers, smtp: Smtp, env: dict[str, str], tmp_path: Path
) -> None:
    workers.start()
    pid = proposal_id(await converse(runtime, ASK))
    revised = await converse(runtime, f"/revise {pid} shorter, mention the late fee, subject Invoice 42 is overdue")
    assert f"Revising {pid} (v1 → v2): “shorter, mention the late fee, subject Invoice 42 is overdue”…" in revised
    assert f"┌ Proposal {pid} · v2 · revised: “shorter, mention the late fee, subject Invoice 42 is overdue”" in revised
    assert "│   subject: Invoice 42 is overdue" in revised
    assert "I also wanted to mention the late fee." in revised
    assert "Please let me know if you have any questions." not in revised  # shorter: the courtesy line went
    events = [e for _, e in await runtime.ledger.read()]
    [event] = [e for e in events if e.type == "ProposalRevised"]
    assert event.summary.startswith("revised: “shorter, mention the late fee") and event.detail["version"] == 2
    assert [e.detail["step"] for e in events if e.type == "ModelCalled"] == ["draft", "revise"]
    done = await converse(runtime, f"/approve {pid}")
    assert "Done: Sent to jane@acme.com" in done
    assert smtp.messages[0]["Subject"] == "Invoice 42 is overdue" and "the late fee" in body(smtp)
    assert deputy("replay", env=env, cwd=tmp_path).returncode == 0


async def test_feedback_the_offline_model_cant_read_leaves_the_card_and_says_so(
    runtime: Runtime, workers: Workers
) -> None:
    workers.start()
    pid = proposal_id(await converse(runtime, ASK))
    refused = await converse(runtime, f"/revise {pid} zqx")
    assert f"✗ Couldn't revise {pid} with “zqx”: I couldn't tell what to change from “zqx”." in refused
    proposal = await runtime.store.get_proposal(pid)
    assert proposal and proposal.version == 1 and proposal.revising is None


@pytest.fixture
async def model_runtime(env: dict[str, str], openai_server: tuple[FakeOpenAI, str]) -> AsyncIterator[Runtime]:
    _, url = openai_server
    env.update(llm_env(url))  # the workers started after this read it too
    runtime = build_runtime(settings_from(env))
    yield runtime
    await runtime.close()


async def test_a_model_over_http_gets_the_draft_and_the_feedback_and_its_revision_is_sent(
    model_runtime: Runtime, workers: Workers, smtp: Smtp, openai_server: tuple[FakeOpenAI, str]
) -> None:
    server, _ = openai_server
    workers.start()
    pid = proposal_id(await converse(model_runtime, ASK))
    revised = await converse(model_runtime, f"/revise {pid} warmer, mention the late fee")
    asked = {m["role"]: m["content"] for m in server.last_messages if m["role"] == "system"}
    assert "Step: revise" in asked["system"] and server.stats.steps[-1] == "revise"
    user = "\n".join(m["content"] for m in server.last_messages if m["role"] == "user")
    assert "<feedback>\nwarmer, mention the late fee\n</feedback>" in user
    draft = json.loads(user.split("<draft>\n")[1].split("\n</draft>")[0])
    assert draft["fields"]["subject"] == "Following up" and "Hello from the test model." in draft["fields"]["body"]
    assert isinstance(server.formats[-1], dict) and server.formats[-1]["type"] == "json_schema"
    assert "Revised by the test model: warmer, mention the late fee" in revised
    assert "v2 · revised: “warmer, mention the late fee”" in revised
    calls = [e for _, e in await model_runtime.ledger.read() if e.type == "ModelCalled"]
    assert [c.detail["step"] for c in calls] == ["draft", "revise"]  # a trigger picked the playbook
    assert f"spent {money(sum(c.cost_usd for c in calls))}" in revised  # the revision's cost is on the card
    assert calls[-1].detail["model"] == MODEL
    await converse(model_runtime, f"/approve {pid}")
    assert smtp.messages[0]["Subject"] == "Following up (revised)"
    assert "Revised by the test model: warmer, mention the late fee" in body(smtp)
