"""A card fits a phone: at most 12 lines before anything is expanded, on Telegram and on Slack, with the draft
in Telegram's expandable quote and a few lines of it (and Full text) on Slack. Lines are counted as the
platform shows them collapsed (an expandable quote as its first 3 lines); the buttons come below."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from bot.cards import CARD_LINES
from bot.slack.render import message as slack
from bot.telegram.render import render as telegram
from orchestrator.model import Proposal, ProposalStatus, StagedAction
from orchestrator.outbound import Kind, Outbound
from tests.bot.cards import proposal

LONG = "\n".join(f"Paragraph {n}: a friendly line about invoice 42." for n in range(40))
NOTES = "\n⚠ Verifier: the amount is not in memory\n" + "\n".join(f"📎 from: fact {n}" for n in range(3))


def email_card(*, notes: bool = True, blocked: str = "") -> Proposal:
    p = proposal(body=LONG)
    p.summary += NOTES if notes else ""
    p.blocked_reason = blocked
    return p


def onboarding_card(actions: int = 5) -> Proposal:
    p = proposal()
    p.summary = "Onboard Acme Corp"
    first = p.actions[0]
    p.actions = [
        StagedAction(
            first.kind,
            {**first.fields, "subject": f"Step {n}"},
            f"Send email “Step {n}” to a{n}@acme.com",
            f"a{n}@acme.com",
            subject=f"Step {n}",
            body=first.body,
        )
        for n in range(1, actions + 1)
    ]
    return p


def telegram_lines(out: Outbound) -> int:
    [piece] = telegram(out)
    collapsed = re.sub(
        r"<blockquote expandable>(.*?)</blockquote>",
        lambda m: "\n".join(m.group(1).split("\n")[:3]),
        piece.html,
        flags=re.S,
    )
    return len(collapsed.split("\n"))


def slack_lines(out: Outbound) -> int:
    blocks: list[dict[str, Any]] = slack(out)[1]
    count = 0
    for block in blocks:
        if block["type"] == "actions":
            continue
        if block["type"] == "context":
            count += sum(len(e["text"].split("\n")) for e in block["elements"])
        else:
            count += len(block["text"]["text"].split("\n"))
    return count


CASES = [
    pytest.param(Outbound(kind=Kind.CARD, text="", proposal=email_card()), id="email-with-notes"),
    pytest.param(
        Outbound(kind=Kind.CARD, text="", proposal=email_card(blocked="Today's budget is spent")), id="email-blocked"
    ),
    pytest.param(Outbound(kind=Kind.CARD, text="", proposal=onboarding_card()), id="five-actions"),
    pytest.param(
        Outbound(kind=Kind.REMINDER, text="Still waiting (4 h)", proposal=onboarding_card(3)),
        id="three-actions-reminder",
    ),
]


@pytest.mark.parametrize("out", CASES)
def test_a_card_keeps_to_twelve_lines_before_expanding(out: Outbound) -> None:
    assert telegram_lines(out) <= CARD_LINES
    assert slack_lines(out) <= CARD_LINES


def test_a_decided_card_keeps_to_twelve_lines_too() -> None:
    p = email_card(blocked="Today's budget is spent")
    p.status = ProposalStatus.APPROVED
    out = Outbound(kind=Kind.OUTCOME, text="Done: sent to jane@acme.com · approved by @sam 09:14", proposal=p)
    assert telegram_lines(out) <= CARD_LINES and slack_lines(out) <= CARD_LINES
    [piece] = telegram(out)
    assert piece.html.endswith("<b>Done: sent to jane@acme.com · approved by @sam 09:14</b>")


def test_telegram_keeps_the_whole_email_in_an_expandable_quote() -> None:
    [piece] = telegram(Outbound(kind=Kind.CARD, text="", proposal=email_card()))
    assert "<blockquote expandable>Paragraph 0:" in piece.html and "Paragraph 39:" in piece.html
    assert "⚠ Verifier: the amount is not in memory\n📎 from: fact 0 · fact 1 · fact 2" in piece.html


def test_slack_shows_the_first_lines_of_the_email_and_full_text() -> None:
    _, blocks = slack(Outbound(kind=Kind.CARD, text="", proposal=email_card()))
    text = "\n".join(b["text"]["text"] for b in blocks if b["type"] == "section")
    assert "> Paragraph 2: a friendly line about invoice 42.…" in text and "Paragraph 3" not in text
    buttons = [e["action_id"] for b in blocks if b["type"] == "actions" for e in b["elements"]]
    assert buttons[-1] == "deputy_full"


def test_a_card_of_several_lists_them_and_counts_the_rest() -> None:
    out = Outbound(kind=Kind.CARD, text="", proposal=onboarding_card())
    [piece] = telegram(out)
    assert "• Send email “Step 1” to <b>a1@acme.com</b>\n• Send email “Step 2” to <b>a2@acme.com</b>\n" in piece.html
    assert "• … and 3 more" in piece.html and "#5 Send email “Step 5”" in piece.html  # all in the quote
    section = next(b for b in slack(out)[1] if b["type"] == "section")["text"]["text"]
    assert section.endswith("• Send email “Step 2” to *a2@acme.com*\n• … and 3 more")


def test_slack_spends_its_three_lines_on_words_not_blank_lines() -> None:
    _, blocks = slack(Outbound(kind=Kind.CARD, text="", proposal=proposal(body="Hi Jane,\n\nLine A\nLine B\n\nSam")))
    text = next(b for b in blocks if b["type"] == "section")["text"]["text"]
    assert text.endswith("> Hi Jane,\n> Line A\n> Line B…")
    assert "deputy_full" in json.dumps(blocks)
    _, short = slack(Outbound(kind=Kind.CARD, text="", proposal=proposal(body="Hi Jane,\n\nThanks!\n\nSam")))
    assert next(b for b in short if b["type"] == "section")["text"]["text"].endswith("> Hi Jane,\n> Thanks!\n> Sam")
    assert "deputy_full" not in json.dumps(short)  # nothing left out but blank lines
