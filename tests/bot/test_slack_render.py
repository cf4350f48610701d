"""The Block Kit renderer: the card a user sees, within Slack's limits, escaped."""

from __future__ import annotations

import json

from bot.cards import view
from bot.slack.render import BLOCK_LIMIT, TEXT_LIMIT, card_blocks, edit_modal, full_text_modal, home, message
from orchestrator.model import Actor, Decision, ProposalStatus, Verdict
from orchestrator.outbound import Kind, Outbound
from tests.bot.cards import AT, proposal

CARD = [
    {"type": "header", "text": {"type": "plain_text", "text": "Follow up with Jane on invoice 42"}},
    {
        "type": "section",
        "text": {
            "type": "mrkdwn",
            "text": "*Send email “Invoice 42 &lt;overdue&gt; &amp; more” to jane@acme.com*\n"
            "to: *jane@acme.com*\n"
            "subject: Invoice 42 &lt;overdue&gt; &amp; more\n"
            "> Hi Jane,\n> A friendly nudge about invoice 42.\n> Sam",
        },
    },
    {
        "type": "context",
        "elements": [
            {"type": "mrkdwn", "text": "risk *low* · cost est. $0.0030 · spent $0.00 · proposal `p7k2m9qx` v1"}
        ],
    },
    {
        "type": "actions",
        "block_id": "deputy:p7k2m9qx:1",
        "elements": [
            {
                "type": "button",
                "text": {"type": "plain_text", "text": "Approve"},
                "action_id": "deputy_approve",
                "value": "p7k2m9qx",
                "style": "primary",
            },
            {
                "type": "button",
                "text": {"type": "plain_text", "text": "Reject"},
                "action_id": "deputy_reject",
                "value": "p7k2m9qx",
                "style": "danger",
            },
            {
                "type": "button",
                "text": {"type": "plain_text", "text": "Revise"},
                "action_id": "deputy_revise",
                "value": "p7k2m9qx",
            },
            {
                "type": "button",
                "text": {"type": "plain_text", "text": "Edit"},
                "action_id": "deputy_edit",
                "value": "p7k2m9qx",
            },
        ],
    },
]


def test_card_snapshot() -> None:
    text, blocks = message(Outbound(kind=Kind.CARD, text="", proposal=proposal()))
    assert blocks == CARD
    assert text == "Proposal p7k2m9qx: Follow up with Jane on invoice 42"


def test_decided_card_has_the_outcome_and_no_buttons() -> None:
    p = proposal()
    p.status = ProposalStatus.APPROVED
    p.decision = Decision(Verdict.APPROVE, Actor("slack", "U1", "@sam"), AT, 1)
    outcome = "Done: Sent to jane@acme.com · approved by @sam 09:14 · $0.003"
    _, blocks = message(Outbound(kind=Kind.OUTCOME, text=outcome, proposal=p, final=True))
    assert blocks[-1] == {"type": "section", "text": {"type": "mrkdwn", "text": outcome}}
    assert not [b for b in blocks if b["type"] == "actions"]


def test_high_risk_approve_asks_for_confirmation() -> None:
    p = proposal()
    p.risk = "high"
    card = view(Outbound(kind=Kind.CARD, text="", proposal=p))
    assert card is not None
    approve = card_blocks(card)[-1]["elements"][0]
    assert approve["action_id"] == "deputy_approve" and approve["confirm"]["confirm"]["text"] == "Approve"


def test_long_drafts_stay_within_limits_and_offer_the_full_text() -> None:
    p = proposal(body="<!channel> " + "x" * 20_000)
    p.actions = p.actions * 80  # more actions than a message may have blocks
    _, blocks = message(Outbound(kind=Kind.CARD, text="", proposal=p))
    assert len(blocks) <= BLOCK_LIMIT
    texts = [b["text"]["text"] for b in blocks if "text" in b and b["type"] == "section"]
    assert all(len(t) <= TEXT_LIMIT for t in texts)
    assert "<!channel>" not in json.dumps(blocks)  # user text can't ping the channel
    assert "deputy_full" in json.dumps(blocks[-1])
    modal = full_text_modal(p)
    assert len(modal["blocks"]) <= BLOCK_LIMIT and all(len(b["text"]["text"]) <= TEXT_LIMIT for b in modal["blocks"])


def test_edit_modal_offers_the_drafted_fields() -> None:
    modal = edit_modal(proposal(), '{"p": "p7k2m9qx"}')
    fields = {b["block_id"]: b["element"]["initial_value"] for b in modal["blocks"] if b["type"] == "input"}
    assert fields == {
        "field:to": "jane@acme.com",
        "field:subject": "Invoice 42 <overdue> & more",
        "field:body": "Hi Jane,\nA friendly nudge about invoice 42.\nSam",
    }


def test_home_lists_pending_with_buttons_and_spend() -> None:
    view_ = home([proposal()], [], "$0.0000 of $5.00")
    dumped = json.dumps(view_)
    assert view_["type"] == "home" and "Waiting for you (1)" in dumped and "$0.0000 of $5.00" in dumped


def test_reminder_and_digest_buttons() -> None:
    p = proposal()
    _, blocks = message(Outbound(kind=Kind.REMINDER, text="Still waiting for your decision (4 h)", proposal=p))
    actions = [e for b in blocks if b["type"] == "actions" for e in b["elements"]]
    assert [(e["action_id"], e["value"]) for e in actions][-2:] == [
        ("deputy_snooze", "p7k2m9qx|1h"),
        ("deputy_snooze", "p7k2m9qx|tomorrow"),
    ]
    _, digest = message(Outbound(kind=Kind.DIGEST, text="Digest for Tue 03 Nov", proposals=(p,), ref="d9"))
    ids = [(e["action_id"], e["value"]) for b in digest if b["type"] == "actions" for e in b["elements"]]
    assert ids == [("deputy_approve", "p7k2m9qx"), ("deputy_reject", "p7k2m9qx"), ("deputy_approve_low", "d9")]
