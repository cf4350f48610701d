"""python-telegram-bot over Deputy's aiohttp transport (bot/telegram/http.py) against the fake Bot API: what PTB
sends arrives as HTTPXRequest would send it, and every way a call can go wrong becomes the error PTB raises with
its own transport (the outbox, the channel's backoff and AIORateLimiter act on those)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TimedOut

from bot.telegram.http import AiohttpRequest, Timeouts
from memory.embedded import free_port
from tests.fakes.telegram_api import TOKEN, FakeBotApi, start


@pytest.fixture
async def api() -> AsyncIterator[FakeBotApi]:
    fake = FakeBotApi()
    runner = await start(fake)
    yield fake
    for gate in fake.hold.values():
        gate.set()
    await runner.cleanup()


@pytest.fixture
async def request_() -> AsyncIterator[AiohttpRequest]:
    transport = AiohttpRequest(pool_size=2, timeouts=Timeouts(read=5))
    yield transport
    await transport.shutdown()


def bot_at(base: str, transport: AiohttpRequest) -> Bot:
    return Bot(TOKEN, base_url=base, request=transport, get_updates_request=AiohttpRequest())


async def test_a_message_goes_form_encoded_and_its_answer_is_read(api: FakeBotApi, request_: AiohttpRequest) -> None:
    bot = bot_at(api.base, request_)
    keyboard = InlineKeyboardMarkup([[InlineKeyboardButton("Approve", callback_data="a:p1:1")]])
    sent = await bot.send_message(chat_id=42, text="On it… <b>ü</b>", parse_mode="HTML", reply_markup=keyboard)
    assert sent.text == "On it… <b>ü</b>" and sent.message_id >= 100
    call = api.sent("sendMessage")[0]
    assert call.params["text"] == "On it… <b>ü</b>"
    assert call.keyboard() == [[{"text": "Approve", "callback_data": "a:p1:1"}]]


async def test_a_file_goes_as_multipart(api: FakeBotApi, request_: AiohttpRequest) -> None:
    bot = bot_at(api.base, request_)
    assert await bot.set_webhook("https://example.org/telegram/webhook", certificate=b"-----BEGIN CERT-----")
    assert api.sent("setWebhook")[0].params["url"] == "https://example.org/telegram/webhook"


@pytest.mark.parametrize(
    ("status", "extra", "error"),
    [
        (429, {"parameters": {"retry_after": 3}}, RetryAfter),
        (403, {}, Forbidden),
        (400, {}, BadRequest),
        (502, {}, NetworkError),
    ],
)
async def test_refusals_become_ptbs_errors(
    api: FakeBotApi, request_: AiohttpRequest, status: int, extra: dict[str, Any], error: type[Exception]
) -> None:
    api.fail_next("sendMessage", status, **extra)
    with pytest.raises(error) as raised:
        await bot_at(api.base, request_).send_message(chat_id=42, text="hi")
    if isinstance(raised.value, RetryAfter):
        assert raised.value.retry_after == 3


async def test_a_slow_answer_times_out(api: FakeBotApi) -> None:
    api.hold["sendMessage"] = asyncio.Event()
    quick, patient = AiohttpRequest(timeouts=Timeouts(read=0.2)), AiohttpRequest(timeouts=Timeouts(read=60))
    try:
        with pytest.raises(TimedOut):
            await bot_at(api.base, quick).send_message(chat_id=42, text="hi")
        with pytest.raises(TimedOut):  # a call's own read timeout wins over the default
            await bot_at(api.base, patient).send_message(chat_id=42, text="hi", read_timeout=0.2)
    finally:
        await quick.shutdown()
        await patient.shutdown()


async def test_a_full_pool_times_out_unsent(api: FakeBotApi) -> None:
    gate = api.hold["sendMessage"] = asyncio.Event()
    transport = AiohttpRequest(pool_size=1, timeouts=Timeouts(read=30, pool=0.1))
    bot = bot_at(api.base, transport)
    first = asyncio.create_task(bot.send_message(chat_id=42, text="first"))
    try:
        with pytest.raises(TimedOut, match="Pool timeout"):
            while not first.done():  # until the first call holds the one connection
                await bot.get_me()
        gate.set()
        assert (await first).text == "first"
    finally:
        gate.set()
        await transport.shutdown()


async def test_a_refused_connection_is_a_network_error(request_: AiohttpRequest) -> None:
    with pytest.raises(NetworkError) as raised:
        await bot_at(f"http://127.0.0.1:{free_port()}/bot", request_).get_me()
    assert not isinstance(raised.value, TimedOut)


async def test_a_shut_transport_takes_no_calls_until_initialized(api: FakeBotApi) -> None:
    transport = AiohttpRequest()
    bot = bot_at(api.base, transport)
    assert (await bot.get_me()).username == "deputy_bot"  # used without initialize(), as a job's bot is
    await transport.shutdown()
    with pytest.raises(NetworkError, match="not initialized"):
        await bot.get_me()
    await transport.initialize()
    assert (await bot.get_me()).username == "deputy_bot"
    await transport.shutdown()
