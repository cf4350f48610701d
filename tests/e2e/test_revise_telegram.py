"""Revise on Telegram end to end (real python-telegram-bot, the fake Bot API, a real worker, the offline model): the
Revise button (`v:<id>:<version>`) sends a ForceReply prompt, the operator's reply to it is the feedback, and the
same message becomes version 2 of the card; the version-1 Approve is refused as superseded, and the email
approved on the new card is the revised one."""

from __future__ import annotations

from tests.conftest import Smtp, eventually
from tests.e2e.test_telegram import Deputy, api, deputy, tg_env
from tests.fakes.telegram_api import CHAT, Call

__all__ = ["api", "deputy", "tg_env"]  # the fixtures this module shares


def edits_with(deputy: Deputy, words: str) -> list[Call]:
    return [c for c in deputy.api.sent("editMessageText") if words in c.params["text"]]


async def test_revise_by_replying_to_the_prompt_redraws_the_card(deputy: Deputy, smtp: Smtp) -> None:
    card = await deputy.card_for("email jane@acme.com about invoice 42")
    message_id = int(card.params["message_id"])
    buttons = [b["callback_data"] for row in card.markup() for b in row]
    pid = buttons[0].split(":")[1]
    assert f"v:{pid}:1" in buttons
    await deputy.click(f"v:{pid}:1", message_id)
    prompts = await eventually(
        lambda: [c for c in deputy.api.sent("sendMessage", CHAT) if "force_reply" in c.params.get("reply_markup", {})],
        20,
        "the prompt",
    )
    assert f"What should change in <b>{pid}</b> (v1)?" in prompts[0].params["text"]
    prompt_id = next(k for (chat, k), text in deputy.api.messages.items() if text == prompts[0].params["text"])
    await deputy.api.push(deputy.api.text_update("shorter, mention the late fee", reply_to=prompt_id))
    revised = await eventually(lambda: edits_with(deputy, "revised:"), 30, "the revised card")
    assert int(revised[-1].params["message_id"]) == message_id  # the same message, replaced in place
    assert "v2 · revised: “shorter, mention the late fee”" in revised[-1].params["text"]
    assert "I also wanted to mention the late fee." in revised[-1].params["text"]
    assert f"a:{pid}:2" in [b["callback_data"] for row in revised[-1].markup() for b in row]

    await deputy.click(f"a:{pid}:1", message_id)  # a press on the card as it was before
    await eventually(lambda: any("changed since this card (v1)" in t for t in deputy.toasts()), 20, "the refusal")
    assert smtp.messages == []
    await deputy.click(f"a:{pid}:2", message_id)
    await eventually(lambda: len(smtp.messages) == 1, 30, "the email")
    payload = smtp.messages[0].get_payload(decode=True)
    assert isinstance(payload, bytes) and "the late fee" in payload.decode()
