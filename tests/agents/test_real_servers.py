"""Deputy against the fake OpenAI-compatible server in the modes of real local servers (tests/fakes/openai_api.py):
chat templates that insist on alternating roles or have no system role, servers that refuse some response formats,
answers cut at `max_tokens`. Each through the real model client over HTTP."""

from __future__ import annotations

import json

import pytest
from aiohttp import web

from agents import prompts, runner
from bot.wiring import build_runtime
from memory.embedded import free_port
from orchestrator.model import ProposalDraft, Reply
from tests.agents.conftest import Llm, llm_env
from tests.agents.test_offline import task
from tests.agents.test_revise import EMAIL, proposal_of
from tests.conftest import serve, settings_from
from tests.fakes.openai_api import FakeOpenAI

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


async def test_a_server_that_is_restarting_is_tried_again_and_said_in_words(
    env: dict[str, str], openai_server: tuple[FakeOpenAI, str]
) -> None:
    server, _ = openai_server
    port = free_port()
    url = f"http://127.0.0.1:{port}/v1"
    runtime = build_runtime(settings_from({**env, **llm_env(url)}))
    started: list[web.AppRunner] = []
    waits: list[float] = []

    async def restart_after_two_waits(seconds: float) -> None:
        waits.append(seconds)
        if len(waits) == 2:  # the server comes back after the second wait (3 s into the real schedule)
            started.append(await serve(server.app(), port))

    try:
        llm = Llm(server, url, runtime)
        llm.runner.models.sleep = restart_after_two_waits
        draft = await llm.draft(ASK)
        assert isinstance(draft, ProposalDraft), draft
        errors = [c.detail["error"] for c in await llm.calls() if "error" in c.detail]
        assert len(errors) == 2 and all(e.startswith(f"can't reach the model server at {url}") for e in errors)
        assert waits == [1.0, 2.0]
    finally:
        for runner in started:
            await runner.cleanup()
        await runtime.close()


async def test_a_server_that_stays_down_fails_in_words_after_tens_of_seconds(
    env: dict[str, str], openai_server: tuple[FakeOpenAI, str]
) -> None:
    url = f"http://127.0.0.1:{free_port()}/v1"
    runtime = build_runtime(settings_from({**env, **llm_env(url)}))
    waits: list[float] = []

    async def no_wait(seconds: float) -> None:
        waits.append(seconds)

    try:
        llm = Llm(openai_server[0], url, runtime)
        llm.runner.models.sleep = no_wait
        draft = await llm.draft(ASK)
        assert isinstance(draft, Reply) and f"can't reach the model server at {url}" in draft.text
        said = draft.text.replace(url, "<url>")  # the port in the URL may hold "500"
        assert "500" not in said and "for 31 s" in said and 20 <= sum(waits) <= 60
    finally:
        await runtime.close()


async def test_a_local_servers_timeout_is_not_retried_and_the_next_call_waits_for_the_slot(
    env: dict[str, str], openai_server: tuple[FakeOpenAI, str]
) -> None:
    server, url = openai_server
    server.single_slot, server.delay_s = True, 2.0  # llama.cpp with one slot: it computes an abandoned request
    runtime = build_runtime(settings_from({**env, **llm_env(url, DEPUTY_LLM_TIMEOUT_S="1")}))
    try:
        llm = Llm(server, url, runtime)
        slow = await llm.draft(ASK)
        assert isinstance(slow, Reply) and "did not answer in time" in slow.text and "DEPUTY_LLM_TIMEOUT_S" in slow.text
        assert server.stats.requests == 1  # not stacked behind the abandoned one
        left = await runtime.redis.pttl("deputy:llm:busy:" + url)
        assert 0 < left <= 1000  # the next call to this server waits this long first
    finally:
        await runtime.close()


async def test_each_step_gets_the_room_it_needs(llm: Llm) -> None:
    draft = await llm.draft("the contract for jane@acme.com needs a reminder by mail")  # no trigger: classify
    assert isinstance(draft, ProposalDraft)
    classify, drafting = llm.server.max_tokens[:2]
    assert classify <= 100 and drafting == runner.draft_tokens(llm.runner.playbooks["email"]) > 8000


@pytest.mark.parametrize(("ramble", "staged"), [(9_000, True), (30_000, False)])
async def test_an_answer_cut_at_the_length_limit_is_asked_once_more_with_room_never_repaired(
    llm: Llm, ramble: int, staged: bool
) -> None:
    llm.server.ramble = ramble  # the body runs on: cut at max_tokens, finish_reason "length"
    draft = await llm.draft(ASK)
    room = runner.draft_tokens(llm.runner.playbooks["email"])
    assert llm.server.max_tokens == [room, min(runner.MAX_TOKENS, room * 2)]
    assert llm.server.stats.steps == ["draft", "draft"]  # the same prompt again: no repair of a cut-off answer
    if staged:
        assert isinstance(draft, ProposalDraft) and "a a a a" in draft.actions[0][1]["body"]
    else:
        assert isinstance(draft, Reply) and "the model stopped at its length limit" in draft.text
        assert "not valid JSON" not in draft.text
    finishes = [c.detail.get("finish") for c in await llm.calls()]
    assert finishes == ["length", None if staged else "length"]


async def test_a_revision_that_changes_nothing_is_refused(llm: Llm) -> None:
    request = task(EMAIL)
    proposal = await proposal_of(llm.runtime, request)
    [(_, fields)] = [(a.kind, a.fields) for a in proposal.actions]
    same = {"summary": "s", "confidence": 0.9, "fields": {**fields, "body": fields["body"] + "\n"}}
    llm.script({"content": json.dumps(same)})
    revised = await llm.runner.revise(request, proposal, "shorter, mention the late fee")
    assert isinstance(revised, Reply) and not revised.ok
    assert revised.text == "the model made no change; try saying it differently"


async def test_a_connection_dropped_before_the_answer_is_tried_again_in_words(llm: Llm) -> None:
    llm.server.drop_next = 1  # the server was killed mid-request and is back
    waits: list[float] = []

    async def no_wait(seconds: float) -> None:
        waits.append(seconds)

    llm.runner.models.sleep = no_wait
    draft = await llm.draft(ASK)
    assert isinstance(draft, ProposalDraft), draft
    [error] = [c.detail["error"] for c in await llm.calls() if "error" in c.detail]
    assert error.startswith(f"can't reach the model server at {llm.url}") and "500" not in error.replace(llm.url, "")
    assert waits == [1.0]
