"""The typed words and button verbs for the operator's word after an apply: /resend, /sent, /retry, and the
Slack/Telegram presses that carry an action's index."""

from __future__ import annotations

import pytest

from orchestrator import commands as cmd
from orchestrator.coordinator import _pressed
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
    ("verb", "expected"),
    [
        ("resend:1", cmd.SendAgain(proposal_id="p1", actor=SAM, chat=DM, index=1, event_id="cb1")),
        ("mark_sent:0", cmd.MarkSent(proposal_id="p1", actor=SAM, chat=DM, index=0, event_id="cb1")),
        ("run_rest", cmd.RunRest(proposal_id="p1", actor=SAM, chat=DM, event_id="cb1")),
    ],
)
def test_the_presses_become_the_same_commands(verb: str, expected: cmd.Command) -> None:
    assert _pressed(cmd.Click(SAM, DM, verb, "p1", "cb1")) == expected


def test_a_press_without_an_action_index_is_refused() -> None:
    with pytest.raises(BadRequest, match="names no action"):
        _pressed(cmd.Click(SAM, DM, "resend:x", "p1", "cb1"))
