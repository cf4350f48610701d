"""The Slack channel end to end: real slack-bolt mounted in Deputy's web app, signed requests, a fake Slack
Web API (tests/fakes/slack_api.py), a real worker process, Redis and SMTP server."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import aiohttp
import pytest

from bot.wiring import Runtime
from tests.conftest import Smtp, Workers, eventually
from tests.e2e.helpers import web_deputy
from tests.fakes import slack_api as slack
from tests.fakes.slack_api import DM, OPERATOR, STRANGER, Call, FakeSlack


@dataclass
class Deputy:
    api: FakeSlack
    runtime: Runtime
    port: int
    http: aiohttp.ClientSession

    async def post(self, body: str, content_type: str, headers: dict[str, str] | None = None) -> int:
        url = f"http://127.0.0.1:{self.port}/slack/events"
        sign = slack.signed(body) if headers is None else headers
        async with self.http.post(url, data=body, headers={**sign, "Content-Type": content_type}) as response:
            await response.read()
            return response.status

    async def send(self, payload: dict[str, Any], form: bool = False) -> int:
        return await self.post(*(slack.as_form(payload) if form else slack.as_json(payload)))

    def cards(self) -> list[Call]:
        return [c for c in self.api.calls if c.method in ("chat.postMessage", "chat.update") and c.action_ids()]

    async def card_for(self, text: str) -> Call:
        assert await self.send(slack.event(text=text)) == 200
        cards: list[Call] = await eventually(self.cards, 30, "a card")
        return cards[0]


@pytest.fixture
def slack_env(env: dict[str, str], slack_api: FakeSlack) -> dict[str, str]:
    return {
        **env,
        "SLACK_BOT_TOKEN": slack.BOT_TOKEN,
        "SLACK_SIGNING_SECRET": slack.SIGNING_SECRET,
        "DEPUTY_SLACK_API_URL": slack_api.base,
        "DEPUTY_OPERATORS": f"slack:{OPERATOR}",
    }


@contextlib.asynccontextmanager
async def running(api: FakeSlack, env: dict[str, str]) -> AsyncIterator[Deputy]:
    async with web_deputy(env) as (runtime, port), aiohttp.ClientSession() as http:
        yield Deputy(api, runtime, port, http)


@pytest.fixture
async def deputy(slack_api: FakeSlack, slack_env: dict[str, str], workers: Workers) -> AsyncIterator[Deputy]:
    workers.start(**slack_env)
    async with running(slack_api, slack_env) as started:
        yield started


def submit(view: dict[str, Any], values: dict[str, Any]) -> dict[str, Any]:
    """What Slack sends when the operator presses the modal's submit button."""
    return {
        "type": "view_submission",
        "user": {"id": OPERATOR, "username": "sam"},
        "team": {"id": "T1"},
        "api_app_id": "A1",
        "token": "legacy",
        "trigger_id": "t-submit",
        "view": {
            "id": "V-submitted",
            "type": "modal",
            "callback_id": view["callback_id"],
            "private_metadata": view["private_metadata"],
            "state": {"values": values},
        },
    }


def updates_with(deputy: Deputy, words: str) -> list[Call]:
    return [c for c in deputy.api.sent("chat.update") if words in c.text]


async def test_dm_becomes_a_card_updated_in_place(deputy: Deputy) -> None:
    card = await deputy.card_for("email jane@acme.com a follow-up on invoice 42")
    posted = deputy.api.sent("chat.postMessage")
    assert len(posted) == 1 and "On it" in posted[0].text  # one message, then edits of it
    assert card.method == "chat.update" and card.params["ts"] == posted[0].params.get("ts", card.params["ts"])
    assert all(c.params["ts"] == card.params["ts"] for c in deputy.api.sent("chat.update"))
    assert "jane@acme.com" in card.text
    assert card.action_ids() == ["deputy_approve", "deputy_reject", "deputy_revise", "deputy_edit", "deputy_full"]
    values = {e["value"] for b in card.params["blocks"] if b["type"] == "actions" for e in b["elements"]}
    assert len(values) == 1 and next(iter(values)).startswith("p")


async def test_bad_signatures_are_refused_and_nothing_is_queued(deputy: Deputy) -> None:
    body, kind = slack.as_json(slack.event(text="email jane@acme.com hi"))
    forged = slack.signed(body, secret="not-the-secret")
    stale = slack.signed(body, age_s=301)
    tampered = slack.signed(body.replace("hi", "bye"))
    for headers in (forged, stale, tampered, {}):
        assert await deputy.post(body, kind, headers) == 401
    await asyncio.sleep(0.3)
    assert await deputy.runtime.store.ids("task", "received") == []
    assert deputy.api.sent("chat.postMessage") == []


async def test_retried_event_makes_one_task_and_one_card(deputy: Deputy) -> None:
    payload = slack.event(text="email jane@acme.com about the retries")
    body, kind = slack.as_json(payload)
    statuses = []
    for retry in range(4):
        headers = {**slack.signed(body), **({"X-Slack-Retry-Num": str(retry)} if retry else {})}
        statuses.append(await deputy.post(body, kind, headers))
    assert statuses == [200] * 4
    await eventually(deputy.cards, 30, "the card")
    await asyncio.sleep(0.5)
    assert len(deputy.api.sent("chat.postMessage")) == 1
    assert len(await deputy.runtime.store.ids("task", "proposed")) == 1


async def test_concurrent_clicks_apply_once_and_refuse_the_stranger(deputy: Deputy, smtp: Smtp) -> None:
    card = await deputy.card_for("email jane@acme.com a follow-up on invoice 42")
    pid, ts = card.params["blocks"][-1]["elements"][0]["value"], card.params["ts"]
    clicks = [
        slack.click("deputy_approve", pid, ts=ts),
        slack.click("deputy_approve", pid, ts=ts),
        slack.click("deputy_approve", pid, ts=ts, user=STRANGER),
    ]
    statuses = await asyncio.gather(*(deputy.send(c, form=True) for c in clicks))
    assert statuses == [200, 200, 200]
    await eventually(lambda: len(smtp.messages) == 1, 30, "the email")
    await eventually(lambda: updates_with(deputy, "Done"), 30, "the outcome on the card")
    await asyncio.sleep(0.5)
    assert len(smtp.messages) == 1
    outcome = updates_with(deputy, "Done")
    assert len(outcome) == 1 and outcome[0].action_ids() == ["deputy_full"]  # updated once, the decision's gone
    assert "@sam" in outcome[0].text
    ephemeral = deputy.api.sent("chat.postEphemeral")
    assert [c.params["user"] for c in ephemeral].count(STRANGER) == 1
    assert any("You can't" in c.params["text"] for c in ephemeral if c.params["user"] == STRANGER)


async def test_reject_asks_for_a_reason_and_the_ledger_keeps_it(deputy: Deputy, smtp: Smtp) -> None:
    card = await deputy.card_for("email jane@acme.com about the contract")
    pid = card.params["blocks"][-1]["elements"][0]["value"]
    assert await deputy.send(slack.click("deputy_reject", pid, ts=card.params["ts"]), form=True) == 200
    opened = await eventually(lambda: deputy.api.sent("views.open"), 10, "the reason modal")
    view = opened[0].params["view"]
    reason = {"reason": {"value": {"type": "plain_text_input", "value": "too pushy"}}}
    submission = submit(view, reason)
    assert await deputy.send(submission, form=True) == 200
    await eventually(lambda: updates_with(deputy, "Rejected"), 20, "the rejection on the card")
    events = [e for _, e in await deputy.runtime.ledger.read()]
    rejected = [e for e in events if e.type == "ProposalRejected"]
    assert len(rejected) == 1 and "too pushy" in rejected[0].summary
    assert smtp.messages == []


async def test_edit_modal_restages_a_new_version_on_the_same_card(deputy: Deputy) -> None:
    card = await deputy.card_for("email jane@acme.com about the contract")
    pid, ts = card.params["blocks"][-1]["elements"][0]["value"], card.params["ts"]
    assert await deputy.send(slack.click("deputy_edit", pid, ts=ts), form=True) == 200
    opened = await eventually(lambda: deputy.api.sent("views.open"), 10, "the edit modal")
    view = opened[0].params["view"]
    values = {b["block_id"]: {"value": {"value": b["element"].get("initial_value", "")}} for b in view["blocks"][1:]}
    values["field:subject"]["value"]["value"] = "Contract: next steps"
    submission = submit(view, values)
    assert await deputy.send(submission, form=True) == 200
    edited = await eventually(lambda: updates_with(deputy, "Contract: next steps"), 20, "the new version")
    assert edited[-1].params["ts"] == ts and " v2" in edited[-1].text
    assert "deputy_approve" in edited[-1].action_ids()


async def test_slash_command_words_and_app_home(deputy: Deputy) -> None:
    await deputy.card_for("email jane@acme.com about the status")
    assert await deputy.send(slack.command("status"), form=True) == 200
    status = await eventually(
        lambda: [c for c in deputy.api.sent("chat.postMessage") if "Pending proposals: 1" in c.text], 20, "status"
    )
    assert status[0].params["channel"] == DM
    home_event = slack.event("app_home_opened", text="", tab="home")
    assert await deputy.send(home_event) == 200
    published = await eventually(lambda: deputy.api.sent("views.publish"), 10, "the App Home")
    view = published[0].params["view"]
    assert view["type"] == "home" and "Waiting for you (1)" in json.dumps(view)
    buttons = [e["action_id"] for b in view["blocks"] if b["type"] == "actions" for e in b["elements"]]
    assert buttons == ["deputy_approve", "deputy_reject"]
    assert "Today's spend" in json.dumps(view)


async def test_slash_snooze_snoozes_and_starts_no_task(deputy: Deputy) -> None:
    card = await deputy.card_for("email jane@acme.com about the renewal")
    pid = card.params["blocks"][-1]["elements"][0]["value"]
    assert await deputy.send(slack.command(f"snooze {pid} 1h"), form=True) == 200
    said = await eventually(
        lambda: [c for c in deputy.api.sent("chat.postMessage") if f"Snoozed {pid}" in c.text], 20, "the snooze"
    )
    assert "I'll remind you" in said[0].text
    events = [e for _, e in await deputy.runtime.ledger.read()]
    assert [e.proposal_id for e in events if e.type == "ProposalSnoozed"] == [pid]
    assert len([e for e in events if e.type == "TaskSubmitted"]) == 1  # the email's; the words started nothing


async def test_rate_limited_post_is_retried_after_retry_after(deputy: Deputy) -> None:
    deputy.api.fail_next("chat.postMessage", 429)
    started = asyncio.get_running_loop().time()
    assert await deputy.send(slack.command("help"), form=True) == 200
    posted = await eventually(lambda: deputy.api.sent("chat.postMessage"), 20, "the help after the 429")
    assert asyncio.get_running_loop().time() - started >= 0.9
    assert "/approve" in posted[0].text


async def test_malformed_bodies_and_unknown_events_never_crash(deputy: Deputy) -> None:
    assert await deputy.post("{not json", "application/json") == 400
    assert await deputy.post("payload=%7Bbroken", "application/x-www-form-urlencoded") == 400
    assert await deputy.send(slack.event("reaction_added", text="")) == 200
    assert await deputy.send(slack.event("message", text="edited", subtype="message_changed")) == 200
    async with deputy.http.get(f"http://127.0.0.1:{deputy.port}/healthz") as response:
        assert response.status == 200
    await asyncio.sleep(0.3)
    assert await deputy.runtime.store.ids("task", "received") == []


async def test_stranger_dm_is_told_their_id(deputy: Deputy) -> None:
    assert await deputy.send(slack.event(text="email jane@acme.com hi", user=STRANGER, channel="D0EVE")) == 200
    reply = await eventually(lambda: deputy.api.sent("chat.postMessage"), 10, "the reply")
    assert f"slack:{STRANGER}" in reply[0].text and "DEPUTY_OPERATORS" in reply[0].text


async def test_socket_mode_carries_the_same_flow(
    slack_api: FakeSlack, slack_env: dict[str, str], workers: Workers, smtp: Smtp
) -> None:
    env = {k: v for k, v in slack_env.items() if k != "SLACK_SIGNING_SECRET"} | {"SLACK_APP_TOKEN": slack.APP_TOKEN}
    workers.start(**env)
    async with running(slack_api, env) as deputy:
        await slack_api.push("events_api", slack.event(text="email jane@acme.com over the socket"))
        cards: list[Call] = await eventually(deputy.cards, 30, "the card")
        pid, ts = cards[0].params["blocks"][-1]["elements"][0]["value"], cards[0].params["ts"]
        await slack_api.push("interactive", slack.click("deputy_approve", pid, ts=ts))
        await eventually(lambda: len(smtp.messages) == 1, 30, "the email")
        assert len(slack_api.acks) == 2  # every envelope acknowledged
        async with deputy.http.post(f"http://127.0.0.1:{deputy.port}/slack/events", data="{}") as response:
            assert response.status == 404  # no signing secret: no HTTP endpoint to forge requests to


async def test_url_verification_challenge_is_answered(deputy: Deputy) -> None:
    body, kind = slack.as_json({"type": "url_verification", "challenge": "c-123", "token": "legacy"})
    url = f"http://127.0.0.1:{deputy.port}/slack/events"
    async with deputy.http.post(url, data=body, headers={**slack.signed(body), "Content-Type": kind}) as response:
        assert response.status == 200 and "c-123" in await response.text()


async def test_a_strangers_presses_open_no_form_and_are_told_once(deputy: Deputy) -> None:
    """Revise, Reject and Full text pressed by someone who is no operator: no modal opens, one ephemeral line."""
    card = await deputy.card_for("email jane@acme.com about invoice 8")
    pid, ts = card.params["blocks"][-1]["elements"][0]["value"], card.params["ts"]
    presses = [
        slack.click(action, pid, ts=f"{ts}{n}", user=STRANGER)
        for n in range(30)
        for action in ("deputy_revise", "deputy_reject", "deputy_full")
    ]
    statuses = await asyncio.gather(*(deputy.send(c, form=True) for c in presses))
    assert set(statuses) == {200}
    await eventually(lambda: deputy.api.sent("chat.postEphemeral"), 10, "the refusal")
    await asyncio.sleep(0.5)
    assert deputy.api.sent("views.open") == []
    told = [c for c in deputy.api.sent("chat.postEphemeral") if c.params["user"] == STRANGER]
    assert len(told) == 1 and "not an operator" in told[0].params["text"]


@pytest.mark.soak  # a timed condition: on a machine busy with the whole suite the presses' CPU time shows
async def test_300_stranger_presses_keep_the_operators_card_within_2_s_of_a_quiet_run(deputy: Deputy) -> None:
    """The issue's measure, on Slack: the operator's next card after a stranger's 300 presses (Revise, Reject,
    Full text) comes within 2 s of a quiet run's, measured here first."""
    card = await deputy.card_for("email jane@acme.com about invoice 9")
    pid, ts = card.params["blocks"][-1]["elements"][0]["value"], card.params["ts"]
    quiet = await _card_time(deputy, "email ann@acme.com about a quiet day")
    presses = [
        slack.click(action, pid, ts=f"{ts}{n}", user=STRANGER)
        for n in range(100)
        for action in ("deputy_revise", "deputy_reject", "deputy_full")
    ]
    statuses = await asyncio.gather(*(deputy.send(c, form=True) for c in presses))
    assert set(statuses) == {200}
    took = await _card_time(deputy, "email bob@acme.com about the press flood")
    print(f"operator's card {took:.2f} s after 300 stranger presses, {quiet:.2f} s in a quiet run")
    assert took <= quiet + 2.0 and deputy.api.sent("views.open") == []


async def _card_time(deputy: Deputy, text: str) -> float:
    """Seconds from the operator's message to its card."""
    address = text.split()[1]
    started = asyncio.get_running_loop().time()
    assert await deputy.send(slack.event(text=text)) == 200
    await eventually(lambda: any(address in c.text for c in deputy.cards()), 30, "the card")
    return asyncio.get_running_loop().time() - started
