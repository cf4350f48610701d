"""What the webhook stores and what its work behind the ack gets: the update parsed once in the ack, unless storing
cleaned its text — then the work must read what was stored, so it gets nothing parsed (bot/telegram/channel.py)."""

from __future__ import annotations

import json

import pytest

from bot.payloads import Malformed
from bot.telegram.channel import parsed_update
from bot.telegram.outbound import make_bot
from tests.fakes.telegram_api import TOKEN, FakeBotApi


def test_a_clean_update_is_stored_as_sent_and_handed_on_parsed() -> None:
    bot, _ = make_bot(TOKEN, "http://127.0.0.1:9/bot")
    raw = json.dumps(FakeBotApi().text_update("email jane@acme.com about invoice 7")).encode()
    stored, update = parsed_update(raw, bot)
    assert stored == raw.decode()
    assert update is not None and update.effective_message is not None
    assert update.effective_message.text == "email jane@acme.com about invoice 7"
    assert update.get_bot() is bot


def test_an_update_storing_cleans_is_handed_on_as_stored_only() -> None:
    bot, _ = make_bot(TOKEN, "http://127.0.0.1:9/bot")
    raw = json.dumps(FakeBotApi().text_update("invoice\u0007 7")).encode()
    stored, update = parsed_update(raw, bot)
    assert update is None
    assert json.loads(stored)["message"]["text"] == "invoice 7"


def test_what_is_no_update_is_refused() -> None:
    bot, _ = make_bot(TOKEN, "http://127.0.0.1:9/bot")
    with pytest.raises(Malformed):
        parsed_update(b'{"update_id": 1, "message": {"chat": {"id": 1}, "message_id": 2, "date": 1e15}}', bot)
