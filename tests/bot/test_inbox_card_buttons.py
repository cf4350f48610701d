"""An inbox card's own buttons (Mark read, Archive, Add as client) on every channel: shown while offered, gone once
pressed (with what became of it on the card), and a card that only shows an email has Dismiss, not Approve."""

from __future__ import annotations

from typing import Any

from bot.console.render import render as console
from bot.slack.render import message as slack
from bot.telegram.render import render as telegram
from orchestrator.actions import ActionStatus
from orchestrator.buttons import ADD_CLIENT, ARCHIVE, MARK_READ, from_slack, from_telegram
from orchestrator.model import StagedAction
from orchestrator.outbound import Kind, Outbound
from tests.bot.cards import proposal


def email_card(*, replies: bool) -> Outbound:
    p = proposal(pid="p7k2m9qx")
    p.playbook, p.summary = "inbox", "FYI from Zoe: “Minutes” · not a client yet\n“Minutes attached.”"
    p.actions = p.actions if replies else []
    where = {"folder": "INBOX", "uidvalidity": "5", "uid": "7", "message_id": "<m@x>"}
    p.offers = {
        "mark_read": StagedAction("email.file", {**where, "do": "read"}, "Mark the email read in INBOX", "INBOX"),
        "archive": StagedAction("email.file", {**where, "do": "archive"}, "Move the email to Archive", "INBOX"),
        "add_client": StagedAction("record.create", {"name": "Zoe"}, "Create client Zoe", "Deputy records"),
    }
    return Outbound(kind=Kind.CARD, text="", proposal=p)


def pressed(out: Outbound) -> tuple[list[str], list[tuple[str, str]]]:
    blocks: list[dict[str, Any]] = slack(out)[1]
    assert all(b.get("text", {}).get("text", "x") for b in blocks if b["type"] == "section")  # Slack: none empty
    on_slack = [(b["action_id"], b["value"]) for x in blocks if x["type"] == "actions" for b in x["elements"]]
    return [b.data for piece in telegram(out) for row in piece.keyboard for b in row], on_slack


def test_the_buttons_show_while_offered_and_read_back_as_themselves() -> None:
    shown = email_card(replies=False)
    on_telegram, on_slack = pressed(shown)
    assert on_telegram == ["r:p7k2m9qx:1", "ac:p7k2m9qx", "mr:p7k2m9qx", "ar:p7k2m9qx"]  # Dismiss, no Approve
    assert [a for a, _ in on_slack] == ["deputy_reject", "deputy_add_client", "deputy_mark_read", "deputy_archive"]
    for button in (ADD_CLIENT, MARK_READ, ARCHIVE):
        back = from_telegram(f"{button.code}:p7k2m9qx")
        assert back is not None and back[0] is button and back[1].id == "p7k2m9qx"
        found = from_slack(button.action_id, "p7k2m9qx", 1)
        assert found is not None and found[0] is button and found[1].id == "p7k2m9qx"
    assert "/inbox read p7k2m9qx   /inbox archive p7k2m9qx   /client add p7k2m9qx" in console(shown)
    assert "/reject p7k2m9qx dismisses it" in console(shown)
    assert pressed(email_card(replies=True))[0][0] == "a:p7k2m9qx:1"  # a reply card still has Approve first


def test_a_pressed_offer_leaves_the_card_with_what_became_of_it() -> None:
    out = email_card(replies=True)
    assert out.proposal is not None
    offer = out.proposal.offers["mark_read"]
    offer.word, offer.status, offer.outcome = "p2", ActionStatus.APPLIED, "Marked read in INBOX"
    on_telegram, _ = pressed(out)
    assert "mr:p7k2m9qx" not in on_telegram and "ar:p7k2m9qx" in on_telegram
    assert "✓ Marked read in INBOX" in telegram(out)[0].html and "Marked read in INBOX" in console(out)
