"""The typed words and button verbs for the operator's word after an apply: /resend, /sent, /retry, and the
Slack/Telegram presses that carry an action's index."""

from __future__ import annotations

import pytest

from orchestrator import commands as cmd
from orchestrator.buttons import MARK_SENT, RESEND, RUN_REST, Button, Click, Target
from orchestrator.errors import BadRequest
from orchestrator.model import Actor, ChatRef
from orchestrator.words import from_slash, help_text
from tests.orchestrator.test_words import said

SAM, DM = Actor("slack", "U1", "@sam"), ChatRef("slack", "D1")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("/resend p1", cmd.SendAgain(proposal_id="p1", actor=SAM, chat=DM, index=None, event_id="e1")),
        ("/resend p1 2", cmd.SendAgain(proposal_id="p1", actor=SAM, chat=DM, index=1, event_id="e1")),
        ("/sent p1 #1", cmd.MarkSent(proposal_id="p1", actor=SAM, chat=DM, index=0, event_id="e1")),
        ("/retry p1", cmd.RunRest(proposal_id="p1", actor=SAM, chat=DM, event_id="e1")),
    ],
)
def test_the_words_build_their_commands(text: str, expected: cmd.Command) -> None:
    assert said(text, channel=1) == expected


@pytest.mark.parametrize("text", ["/resend p1 0", "/sent p1 two", "/resend", "/retry"])
def test_a_bad_action_number_or_no_id_is_a_clear_reply(text: str) -> None:
    with pytest.raises(BadRequest, match=r"Type /(resend|sent) <id> \[n\]|Which proposal\?"):
        said(text)


def test_help_and_slack_offer_them() -> None:
    assert "/resend <id> [n]" in help_text() and "/sent <id> [n]" in help_text() and "/retry <id>" in help_text()
    assert from_slash("sent p1") == "/sent p1"


@pytest.mark.parametrize(
    ("button", "target", "expected"),
    [
        (RESEND, Target("p1", index=1), cmd.SendAgain(proposal_id="p1", actor=SAM, chat=DM, index=1, event_id="cb1")),
        (MARK_SENT, Target("p1", index=0), cmd.MarkSent(proposal_id="p1", actor=SAM, chat=DM, index=0, event_id="cb1")),
        (RUN_REST, Target("p1"), cmd.RunRest(proposal_id="p1", actor=SAM, chat=DM, event_id="cb1")),
    ],
)
def test_the_presses_become_the_same_commands(button: Button, target: Target, expected: cmd.Command) -> None:
    assert button.press(Click(SAM, DM, button, target, "cb1")) == expected


def test_a_press_without_an_action_index_is_refused() -> None:
    with pytest.raises(BadRequest, match="names no action"):
        RESEND.press(Click(SAM, DM, RESEND, Target("p1"), "cb1"))
