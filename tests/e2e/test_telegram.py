"""The Telegram channel end to end: real python-telegram-bot in Deputy's web app, polling or webhook, against
a fake Bot API (tests/fakes/telegram_api.py), with a real worker process, Redis and SMTP server."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import date
from html import unescape
from pathlib import Path

import aiohttp
import pytest

from bot.wiring import Runtime
from memory.embedded import free_port
from orchestrator.model import ChatRef
from tests.conftest import Smtp, Workers, eventually
from tests.e2e.helpers import web_deputy
from tests.e2e.test_up import Up
from tests.fakes.telegram_api import CHAT, OPERATOR_ID, STRANGER_ID, TOKEN, Call, FakeBotApi, start

SECRET = "s3cret-token"


@dataclass
class Deputy:
    api: FakeBotApi
    runtime: Runtime
    port: int

    def cards(self) -> list[Call]:
        return [c for c in self.api.calls if c.method in ("sendMessage", "editMessageText") and c.markup()]

    async def card_for(self, text: str) -> Call:
        await self.api.push(self.api.text_update(text))
        cards: list[Call] = await eventually(self.cards, 30, "a card")
        return cards[0]

    async def click(self, data: str, message_id: int, user: int = OPERATOR_ID) -> None:
        await self.api.push(self.api.click_update(data, message_id=message_id, user=user))

    def toasts(self) -> list[str]:
        return [str(c.params.get("text", "")) for c in self.api.sent("answerCallbackQuery")]


@pytest.fixture
async def api() -> AsyncIterator[FakeBotApi]:
    fake = FakeBotApi()
    runner = await start(fake)
    yield fake
    await runner.cleanup()


@pytest.fixture
def tg_env(env: dict[str, str], api: FakeBotApi) -> dict[str, str]:
    return {
        **env,
        "TELEGRAM_BOT_TOKEN": TOKEN,
        "DEPUTY_TELEGRAM_API_URL": api.base,
        "DEPUTY_OPERATORS": f"telegram:{OPERATOR_ID}",
    }


@contextlib.asynccontextmanager
async def _deputy(api: FakeBotApi, env: dict[str, str]) -> AsyncIterator[Deputy]:
    async with web_deputy(env) as (runtime, port):
        yield Deputy(api, runtime, port)


@pytest.fixture
async def deputy(api: FakeBotApi, tg_env: dict[str, str], workers: Workers) -> AsyncIterator[Deputy]:
    workers.start(**tg_env)
    async with _deputy(api, tg_env) as running:
        yield running


async def test_message_becomes_a_card_edited_in_place_then_approved_once(deputy: Deputy, smtp: Smtp) -> None:
    card = await deputy.card_for("email jane@acme.com a follow-up on invoice 42")
    first = deputy.api.sent("sendMessage", CHAT)[0]
    assert "On it" in first.params["text"]
    message_id = int(card.params["message_id"])  # the card is an edit of the "On it…" message
    assert deputy.api.messages[(str(CHAT), message_id)] == card.params["text"]
    assert "jane@acme.com" in card.params["text"]
    buttons = [b["callback_data"] for row in card.markup() for b in row]
    proposal = buttons[0].split(":")[1]
    assert buttons[:2] == [f"a:{proposal}:1", f"r:{proposal}:1"]  # the version the card shows
    assert all(len(b.encode()) <= 64 for b in buttons)
    assert len(deputy.api.sent("sendMessage", CHAT)) == 1  # progress never posts a second message

    await deputy.click(f"a:{proposal}:1", message_id)
    await deputy.click(f"a:{proposal}:1", message_id)  # a double tap
    await deputy.click(f"a:{proposal}:1", message_id, user=STRANGER_ID)
    await eventually(lambda: len(smtp.messages) == 1, 30, "the email")
    done = await eventually(
        lambda: [c for c in deputy.api.sent("editMessageText") if "Done" in c.params["text"]], 30, "the outcome"
    )
    assert not done[-1].markup()  # the buttons are gone
    await eventually(lambda: len(deputy.toasts()) == 3, 10, "three answers")
    toasts = deputy.toasts()
    assert sum(t.startswith("Approved") for t in toasts) == 1
    assert sum("already approved" in t for t in toasts) == 1
    assert sum(t.startswith("You can't") for t in toasts) == 1
    await asyncio.sleep(0.5)
    assert len(smtp.messages) == 1


async def test_reject_by_button_sends_nothing(deputy: Deputy, smtp: Smtp) -> None:
    card = await deputy.card_for("email jane@acme.com about the contract")
    proposal = card.markup()[0][1]["callback_data"].split(":")[1]
    await deputy.click(f"r:{proposal}", int(card.params["message_id"]))
    rejected = await eventually(
        lambda: [c for c in deputy.api.sent("editMessageText") if "Rejected" in c.params["text"]], 20, "the rejection"
    )
    assert not rejected[-1].markup()
    assert smtp.messages == []


async def test_stranger_is_told_their_id_and_nothing_starts(deputy: Deputy) -> None:
    await deputy.api.push(deputy.api.text_update("email jane@acme.com hi", user=STRANGER_ID, chat=STRANGER_ID))
    reply = await eventually(lambda: deputy.api.sent("sendMessage", STRANGER_ID), 10, "a reply")
    assert f"telegram:{STRANGER_ID}" in reply[0].params["text"]
    assert "DEPUTY_OPERATORS" in reply[0].params["text"]
    assert await deputy.runtime.store.ids("task", "received") == []


async def test_group_messages_need_a_mention_or_a_command(deputy: Deputy) -> None:
    group = -100123
    await deputy.api.push(deputy.api.text_update("chatting among ourselves", chat=group, kind="group"))
    await deputy.api.push(deputy.api.text_update("/help", chat=group, kind="group"))
    replies = await eventually(lambda: deputy.api.sent("sendMessage", group), 10, "the help")
    await asyncio.sleep(0.5)
    assert len(replies) == 1 and "/approve" in replies[0].params["text"]


async def test_commands_are_registered_at_start(deputy: Deputy) -> None:
    registered = await eventually(lambda: deputy.api.sent("setMyCommands"), 10, "setMyCommands")
    names = {c["command"] for c in registered[0].params["commands"]}
    assert {"help", "status", "approve", "reject", "remember", "recall", "forget", "digest", "budget"} <= names


async def test_long_text_with_markup_characters_is_escaped_and_split(deputy: Deputy) -> None:
    text = "<b>&" + "🙂 line\n" * 700  # > 4096 UTF-16 units, with characters HTML would eat
    await deputy.api.push(deputy.api.text_update(f"/recall {text}"))
    await eventually(lambda: len(deputy.api.sent("sendMessage", CHAT)) >= 2, 20, "the rest in a second message")
    shown = [c.params["text"] for c in deputy.api.calls if c.method in ("sendMessage", "editMessageText")]
    for html in shown:
        assert len(unescape(html).encode("utf-16-le")) // 2 <= 4096  # as Telegram counts, after parsing
        assert "<b>&" not in html
    joined = "".join(shown)
    assert "&lt;b&gt;&amp;" in joined
    assert joined.count("🙂 line") == 700  # nothing lost between the pieces


async def test_webhook_checks_the_secret_and_dedupes_update_ids(
    api: FakeBotApi, tg_env: dict[str, str], workers: Workers
) -> None:
    env = {**tg_env, "DEPUTY_TELEGRAM_MODE": "webhook", "DEPUTY_TELEGRAM_WEBHOOK_SECRET": SECRET}
    workers.start(**env)
    async with _deputy(api, env) as deputy:
        url = f"http://127.0.0.1:{deputy.port}/telegram/webhook"
        update = api.text_update("email jane@acme.com about the webhook")
        async with aiohttp.ClientSession() as http:
            await eventually(lambda: _posts(http, url, update, SECRET, 200), 10, "the channel to start")
            for secret in ("", "wrong"):
                async with http.post(url, json=update, headers=_secret(secret)) as response:
                    assert response.status == 403
            async with http.post(url, data=b"{not json", headers=_secret(SECRET)) as response:
                assert response.status == 400
            async with http.post(url, json=update, headers=_secret(SECRET)) as response:
                assert response.status == 200  # a redelivery
        await eventually(lambda: deputy.cards(), 30, "the card")
        await asyncio.sleep(0.5)
        assert len(await deputy.runtime.store.ids("task", "proposed")) == 1
        assert len(api.sent("sendMessage", CHAT)) == 1


async def _posts(http: aiohttp.ClientSession, url: str, body: dict, secret: str, status: int) -> bool:  # type: ignore[type-arg]
    async with http.post(url, json=body, headers=_secret(secret)) as response:
        return response.status == status


def _secret(value: str) -> dict[str, str]:
    return {"X-Telegram-Bot-Api-Secret-Token": value} if value else {}


async def test_bot_api_outage_at_start_is_retried_and_polling_stops_cleanly(
    api: FakeBotApi, tg_env: dict[str, str]
) -> None:
    api.fail_next("getMe", 502, times=2)
    async with _deputy(api, tg_env) as deputy:
        async with aiohttp.ClientSession() as http, http.get(f"http://127.0.0.1:{deputy.port}/healthz") as response:
            assert response.status == 200  # the rest of Deputy is up meanwhile
        await eventually(lambda: api.sent("setMyCommands"), 20, "start after the outage")
    leftovers = [t for t in asyncio.all_tasks() if t is not asyncio.current_task() and "telegram" in repr(t).lower()]
    assert leftovers == []


async def test_flood_limit_answer_is_honoured_and_nothing_is_lost(deputy: Deputy) -> None:
    deputy.api.fail_next("sendMessage", 429, parameters={"retry_after": 1})
    started = asyncio.get_running_loop().time()
    await deputy.api.push(deputy.api.text_update("/help"))
    sent = await eventually(lambda: deputy.api.sent("sendMessage", CHAT), 20, "the help after the flood wait")
    assert asyncio.get_running_loop().time() - started >= 0.9  # waited as told
    assert "/approve" in sent[0].params["text"]


async def test_deputy_up_fetches_what_was_sent_while_down_and_stops_cleanly(
    api: FakeBotApi, tg_env: dict[str, str], tmp_path: Path
) -> None:
    await api.push(api.text_update("email jane@acme.com sent while Deputy was down"))
    up = Up({**tg_env, "DEPUTY_PORT": str(free_port())}, tmp_path)
    try:
        await asyncio.to_thread(up.start)
        await eventually(lambda: [c for c in api.calls if c.markup()], 30, "the card")
        output = await asyncio.to_thread(up.interrupt)
    finally:
        if up.process and up.process.poll() is None:
            up.process.kill()
    assert up.process is not None and up.process.returncode == 0, output
    assert "Traceback" not in output


async def test_digest_approve_all_low_risk_clears_the_waiting_ones_once(
    api: FakeBotApi, tg_env: dict[str, str], workers: Workers, smtp: Smtp
) -> None:
    data = Path(tg_env["DEPUTY_DATA_DIR"])
    data.mkdir(parents=True, exist_ok=True)
    (data / "policies.yaml").write_text("auto_approve: []\n")  # notes wait for a decision too
    env = {**tg_env, "DEPUTY_DIGEST_CHANNEL": f"telegram:{CHAT}"}
    workers.start(**env)
    async with _deputy(api, env) as deputy:
        for text in ("plan the launch", "plan the offsite", "email jane@acme.com about the renewal"):
            await api.push(api.text_update(text))
        await eventually(lambda: len(proposals_on(deputy.cards())) == 3, 30, "three cards")
        await deputy.runtime.scheduler.post(ChatRef("telegram", str(CHAT)), date(2026, 11, 3))
        digest = await eventually(
            lambda: [c for c in api.sent("sendMessage") if "Digest for" in c.params["text"]], 10, "the digest"
        )
        keys = [b["callback_data"] for row in digest[0].markup() for b in row]
        assert keys[-1].startswith("al:") and "Waiting for you (3)" in digest[0].params["text"]
        await deputy.click(keys[-1], message_id=1)
        await deputy.click(keys[-1], message_id=1)  # pressed twice
        await eventually(lambda: len(deputy.toasts()) == 2, 20, "both answers")
        approved = [int(t.split()[1]) for t in deputy.toasts()]  # the presses race: between them, two approvals
        assert sorted(approved) in ([0, 2], [1, 1]) and all("low-risk" in t for t in deputy.toasts())
        await eventually(lambda: done(deputy, 2), 30, "both notes saved")
        await asyncio.sleep(0.5)
        assert await done(deputy, 2) and smtp.messages == []  # the medium-risk email still waits
        assert any("Done: Saved note" in str(c.params.get("text")) for c in api.calls)
        assert len(await deputy.runtime.store.ids("proposal", "pending")) == 1


def proposals_on(cards: list[Call]) -> set[str]:
    return {b["callback_data"].split(":")[1] for c in cards for row in c.markup() for b in row}


async def done(deputy: Deputy, count: int) -> bool:
    return len(await deputy.runtime.store.ids("task", "done")) == count


async def test_memory_words_work_on_telegram(deputy: Deputy) -> None:
    def shows(expected: str) -> Callable[[], bool]:
        def check() -> bool:
            calls = deputy.api.calls
            return expected in "\n".join(unescape(c.params.get("text", "")) for c in calls if "Message" in c.method)

        return check

    for words, expected in (
        ("/remember ACME pays invoices net 30", "Remembered m1: ACME pays invoices net 30"),
        ("/recall ACME invoices", "m1 · ACME pays invoices net 30"),
        ("/forget m1", "Forgot m1: “ACME pays invoices net 30”"),
        ("/recall ACME invoices", "Nothing in memory matches"),
    ):
        await deputy.api.push(deputy.api.text_update(words))
        await eventually(shows(expected), 20, expected)


async def test_a_press_on_the_card_before_an_edit_sends_nothing_and_shows_the_current_one(
    deputy: Deputy, smtp: Smtp
) -> None:
    card = await deputy.card_for("email jane@acme.com about the renewal")
    old = card.markup()[0][0]["callback_data"]
    proposal = old.split(":")[1]
    await deputy.api.push(deputy.api.text_update(f"/edit {proposal} to bob@acme.com"))

    def buttons() -> list[str]:
        return [b["callback_data"] for c in deputy.cards() for row in c.markup() for b in row]

    await eventually(lambda: f"a:{proposal}:2" in buttons(), 20, "the card at version 2")
    await deputy.click(old, int(card.params["message_id"]))
    await eventually(lambda: any("changed since this card" in t for t in deputy.toasts()), 20, "the refusal")
    assert f"a:{proposal}:2" in [b["callback_data"] for b in deputy.cards()[-1].markup()[0]]  # the current card
    await asyncio.sleep(0.5)
    assert smtp.messages == [] and await deputy.runtime.store.ids("proposal", "pending") == [proposal]


async def test_a_strangers_flood_gets_one_answer_and_never_queues_ahead_of_the_operator(deputy: Deputy) -> None:
    for n in range(300):
        await deputy.api.push(deputy.api.text_update(f"hello {n}", user=STRANGER_ID, chat=STRANGER_ID))
    started = asyncio.get_running_loop().time()
    card = await deputy.card_for("email jane@acme.com about the flood")
    took = asyncio.get_running_loop().time() - started
    assert "jane@acme.com" in card.params["text"]
    await asyncio.sleep(1.0)
    assert len(deputy.api.sent("sendMessage", STRANGER_ID)) == 1  # told their id once, then not again this hour
    print(f"operator's card {took:.2f} s after a 300-message flood")


async def test_after_a_restart_deputy_says_once_what_waits(
    api: FakeBotApi, tg_env: dict[str, str], tmp_path: Path
) -> None:
    env = {**tg_env, "DEPUTY_PORT": str(free_port()), "DEPUTY_DIGEST_CHANNEL": f"telegram:{CHAT}"}
    up = Up(env, tmp_path)
    try:
        await asyncio.to_thread(up.start)
        await api.push(api.text_update("email jane@acme.com about the renewal"))
        await eventually(lambda: [c for c in api.calls if c.markup()], 30, "the card")
        await asyncio.to_thread(up.interrupt)
        api.calls.clear()
        await asyncio.to_thread(up.start)  # the restart
        said = await eventually(
            lambda: [c for c in api.sent("sendMessage", CHAT) if "waits for your decision" in c.params["text"]],
            30,
            "the notice of what waits",
        )
        await asyncio.sleep(1.0)
        assert len(said) == 1 and said[0].params["text"].startswith("1 proposal waits for your decision")
        assert [b["callback_data"][:2] for row in said[0].markup() for b in row] == ["a:", "r:"]  # its buttons
    finally:
        if up.process and up.process.poll() is None:
            await asyncio.to_thread(up.interrupt)


async def test_a_strangers_flood_of_presses_posts_nothing_and_never_queues_ahead_of_the_operator(
    deputy: Deputy,
) -> None:
    """Revise and Full text pressed 300 times by a member of the chat who is no operator: no prompt, no full
    text, one refusal toast; the operator's next card comes as in a quiet run (both times printed; the soak
    test below holds it to the issue's 2 s)."""
    await _flood(deputy)


@pytest.mark.soak  # a timed condition: on a machine busy with the whole suite the presses' CPU time shows
async def test_300_stranger_presses_keep_the_operators_card_within_2_s_of_a_quiet_run(deputy: Deputy) -> None:
    took, quiet = await _flood(deputy)
    assert took <= quiet + 2.0  # the condition: within 2 s of a quiet run's time


async def _flood(deputy: Deputy) -> tuple[float, float]:
    """The operator's card after 300 stranger presses, and in a quiet run just before (seconds)."""
    card = await deputy.card_for("email jane@acme.com about invoice 7")
    quiet = await _card_time(deputy, "email ann@acme.com about a quiet day")
    proposal = next(b["callback_data"] for row in card.markup() for b in row).split(":")[1]
    posted = len(deputy.api.sent("sendMessage", CHAT))
    for _n in range(150):
        for data in (f"v:{proposal}:1", f"f:{proposal}"):
            await deputy.click(data, int(card.params["message_id"]), user=STRANGER_ID)
    took = await _card_time(deputy, "email bob@acme.com about the press flood")
    sent = deputy.api.sent("sendMessage", CHAT)[posted:]
    assert not any("What should change" in str(c.params.get("text")) for c in sent)
    assert sum("not an operator" in t for t in deputy.toasts()) == 1
    print(f"operator's card {took:.2f} s after 300 stranger presses, {quiet:.2f} s in a quiet run")
    return took, quiet


async def _card_time(deputy: Deputy, text: str) -> float:
    """Seconds from the operator's message to its card."""
    address = text.split()[1]
    started = asyncio.get_running_loop().time()
    await deputy.api.push(deputy.api.text_update(text))
    await eventually(lambda: any(address in str(c.params.get("text")) for c in deputy.cards()), 30, "the card")
    return asyncio.get_running_loop().time() - started
