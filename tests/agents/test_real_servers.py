"""Deputy against the fake OpenAI-compatible server in the modes of real local servers (tests/fakes/openai_api.py):
chat templates that insist on alternating roles or have no system role, servers that refuse some response formats,
answers cut at `max_tokens`. Each through the real litellm client over HTTP."""

from __future__ import annotations

import pytest

from agents import prompts
from orchestrator.model import ProposalDraft, Reply
from tests.agents.conftest import Llm
from tests.agents.test_offline import task
from tests.agents.test_revise import EMAIL, proposal_of

ASK = "email jane@acme.com a follow-up on invoice 42"


@pytest.mark.parametrize("status", ["400", "500"])
async def test_a_template_that_insists_on_alternating_roles_takes_draft_and_revise(llm: Llm, status: str) -> None:
    llm.server.strict = status
    request = task(EMAIL)
    proposal = await proposal_of(llm.runtime, request)
    revised = await llm.runner.revise(request, proposal, "mention the late fee")
    assert isinstance(revised, ProposalDraft), revised
    assert "Revised by the test model: mention the late fee" in revised.actions[0][1]["body"]
    assert llm.server.stats.steps == ["draft", "revise"]


async def test_a_repair_keeps_the_roles_alternating(llm: Llm) -> None:
    llm.server.strict = "500"
    llm.script({"content": "{not json"})
    draft = await llm.draft(ASK)
    assert isinstance(draft, ProposalDraft) and llm.server.stats.steps == ["draft", "draft"]
    assert [m["role"] for m in llm.server.last_messages] == ["system", "user", "assistant", "user"]


async def test_a_template_without_a_system_role_gets_the_instructions_in_the_first_user_message(llm: Llm) -> None:
    llm.server.strict, llm.server.no_system = "500", True
    draft = await llm.draft(ASK)
    assert isinstance(draft, ProposalDraft), draft
    assert [m["role"] for m in llm.server.last_messages] == ["user"]
    assert llm.server.last_messages[0]["content"].startswith("You are Deputy")
    again = await llm.draft("email jane@acme.com a follow-up on invoice 43", "t2")
    assert isinstance(again, ProposalDraft) and llm.server.stats.requests == 3  # remembered: no refused call


def test_every_prompt_alternates_and_folding_keeps_it_so() -> None:
    ask = prompts.classify([], "x")
    assert prompts.alternates(ask) and prompts.alternates(prompts.repair(ask, "{", "bad"))
    folded = prompts.fold_system(prompts.repair(ask, "{", "bad"))
    assert [m["role"] for m in folded] == ["user", "assistant", "user"] and prompts.alternates(folded)
    assert not prompts.alternates([*ask, {"role": "user", "content": "again"}])
    assert isinstance(Reply("x"), Reply)


@pytest.mark.parametrize(
    ("takes", "ladder"),
    [
        ({"json_object", "text"}, ["json_schema", "json_object", "json_object"]),
        ({"text"}, ["json_schema", "json_object", None, None]),
    ],
)
async def test_a_refused_response_format_steps_down_the_ladder_and_is_remembered(
    llm: Llm, takes: set[str], ladder: list[str | None]
) -> None:
    llm.server.takes = frozenset(takes)  # llama-cpp-python: a 500 on json_schema
    first = await llm.draft(ASK)
    again = await llm.draft("email jane@acme.com a follow-up on invoice 43", "t2")
    assert isinstance(first, ProposalDraft) and isinstance(again, ProposalDraft)
    assert [f["type"] if f else None for f in llm.server.formats] == ladder  # the second task asks as found
    calls = await llm.calls()
    refused = [c.detail["error"] for c in calls if "error" in c.detail]
    assert refused and "Input should be 'text' or 'json_object'" in refused[0]  # the whole cause, line 2 included
    assert [c.detail["step"] for c in calls if "error" not in c.detail] == ["draft", "draft"]
    assert await llm.runtime.redis.exists("deputy:circuit:llm.openai") == 0  # a capability answer, not a failure
