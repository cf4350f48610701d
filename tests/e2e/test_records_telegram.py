"""Records on a channel: through Telegram (real python-telegram-bot, fake Bot API, real worker), typed edits and
/who answer in the chat, and an agent-proposed terms change is a card showing the field change whose Approve
applies it once."""

from __future__ import annotations

from html import unescape

from tests.conftest import eventually
from tests.e2e.test_telegram import Deputy, api, deputy, tg_env
from tests.fakes.telegram_api import CHAT

__all__ = ["api", "deputy", "tg_env"]  # the fixtures this module shares


def said(deputy: Deputy) -> list[str]:
    return [unescape(str(c.params.get("text", ""))) for c in deputy.api.sent(chat=CHAT) if c.params.get("text")]


async def test_who_and_a_terms_change_card_on_telegram(deputy: Deputy) -> None:
    await deputy.api.push(deputy.api.text_update("/client Acme Corp email jane@acme.com"))
    await eventually(lambda: any("New client Acme Corp (c1)" in t for t in said(deputy)), 20, "the edit")
    await deputy.api.push(deputy.api.text_update("/client Acme Corp terms net 30"))
    await eventually(lambda: any("terms (none) → net 30" in t for t in said(deputy)), 20, "the terms")
    await deputy.api.push(deputy.api.text_update("/who acme.com"))
    who = await eventually(lambda: [t for t in said(deputy) if "Acme Corp (c1) · client" in t], 20, "the card")
    assert "terms: net 30 — " in who[0]

    await deputy.api.push(deputy.api.text_update("Acme Corp moved to net 45, update their terms"))
    await eventually(lambda: _card(deputy), 60, "a card")
    text, message_id, data = _card(deputy)[0]
    assert "Update Acme Corp — terms: net 30 → net 45" in text
    await deputy.click(data, message_id)
    await deputy.click(data, message_id)  # a double tap
    await eventually(lambda: any("Updated Acme Corp: terms net 30 → net 45" in t for t in said(deputy)), 30, "done")
    acme = await deputy.runtime.coordinator.core.book.get("c1")
    assert acme is not None and acme.fields["terms"] == "net 45"
    assert [c.field for c in acme.history].count("terms") == 2  # applied once


def _card(deputy: Deputy) -> list[tuple[str, int, str]]:
    """The terms card as the chat shows it now (posted anew or edited in place), its message id and first button."""
    shown = [(int(m), unescape(t)) for (chat, m), t in deputy.api.messages.items() if str(chat) == str(CHAT)]
    found = [(t, m) for m, t in shown if "Update Acme Corp" in t and "Updated" not in t]
    buttons = [c.markup()[0][0]["callback_data"] for c in deputy.cards() if "Update Acme" in str(c.params["text"])]
    return [(t, m, buttons[-1]) for t, m in found[-1:] if buttons]
