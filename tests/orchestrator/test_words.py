"""The chat words, parsed purely: every word builds its command, the same on every channel; `/help`,
Telegram's menu and Slack's `/deputy <word>` come from the same table."""

from __future__ import annotations

import re

import pytest

from orchestrator import commands as cmd
from orchestrator.errors import BadRequest
from orchestrator.model import Actor, ChatRef, Verdict
from orchestrator.words import WORDS, from_slash, help_text, menu, parse

CHANNELS = [
    (Actor("console", "op", "you"), ChatRef("console", "local")),
    (Actor("slack", "U1", "@sam"), ChatRef("slack", "D1")),
    (Actor("telegram", "42", "@sam"), ChatRef("telegram", "42")),
]


def said(text: str, channel: int = 0) -> cmd.Command:
    actor, chat = CHANNELS[channel]
    return parse(cmd.Inbound(actor=actor, chat=chat, text=text, event_id="e1"))


@pytest.mark.parametrize("channel", range(len(CHANNELS)))
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("email jane@acme.com hi", cmd.SubmitTask),
        ("/task email bob", cmd.SubmitTask),
        ("/approve p1", cmd.DecideProposal),
        ("/reject p1 too pushy", cmd.DecideProposal),
        ("/undo p1", cmd.UndoProposal),
        ("/edit p1 subject Invoice 42", cmd.EditProposal),
        ("/snooze p1 tomorrow", cmd.SnoozeProposal),
        ("/status", cmd.ShowView),
        ("/budget", cmd.ShowView),
        ("/help", cmd.ShowView),
        ("/start", cmd.ShowView),
        ("/remember ACME pays net 30", cmd.SubmitTask),
        ("/recall ACME", cmd.SubmitTask),
        ("/forget m3", cmd.SubmitTask),
        ("/digest", cmd.PostDigest),
    ],
)
def test_every_word_builds_its_command_on_every_channel(text: str, expected: type, channel: int) -> None:
    command = said(text, channel)
    assert type(command) is expected
    actor, chat = CHANNELS[channel]
    assert getattr(command, "chat", chat) == chat and getattr(command, "actor", actor) == actor


def test_arguments_land_where_they_belong() -> None:
    reject = said("/reject p1 too pushy")
    assert isinstance(reject, cmd.DecideProposal)
    assert (reject.proposal_id, reject.verdict, reject.reason) == ("p1", Verdict.REJECT, "too pushy")
    edit = said("/edit p1 subject Invoice 42 — reminder")
    assert isinstance(edit, cmd.EditProposal) and edit.changes == {"subject": "Invoice 42 — reminder"}
    snooze = said("/snooze p1")
    assert isinstance(snooze, cmd.SnoozeProposal) and snooze.until == "1h"
    remember = said("/remember ACME pays net 30")
    assert isinstance(remember, cmd.SubmitTask) and remember.text == "remember ACME pays net 30"
    task = said("/Task@deputy_bot email bob")
    assert isinstance(task, cmd.SubmitTask) and task.text == "email bob"
    view = said("/Status@deputy_bot")
    assert isinstance(view, cmd.ShowView) and view.view == "status"


def test_an_inbox_cards_buttons_have_typed_words() -> None:
    """`/client add <id>`, `/inbox read <id>`, `/inbox archive <id>`; `/client Add email …` stays an edit."""
    found = [said(t) for t in ("/client add p1abc", "/inbox read p1abc", "/Inbox Archive p1abc")]
    assert [(c.name, c.proposal_id) for c in found if isinstance(c, cmd.TakeOffer)] == [
        ("add_client", "p1abc"),
        ("mark_read", "p1abc"),
        ("archive", "p1abc"),
    ]
    assert isinstance(said("/client Add email a@b.example"), cmd.RecordWord)
    assert isinstance(said("/inbox"), cmd.ShowView)


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("/undo", "Which proposal? Type /undo <id>"),
        ("/snooze", "Which proposal? Type /snooze <id>"),
        ("/edit p1 subject", "Type /edit <id> <field> <new value>"),
        ("/frobnicate p1", "I don't know /frobnicate"),
    ],
)
def test_bad_words_are_refused_with_what_to_type(text: str, why: str) -> None:
    with pytest.raises(BadRequest, match=re.escape(why)):
        said(text)


@pytest.mark.parametrize(
    ("slash", "message"),
    [
        ("snooze p1 1h", "/snooze p1 1h"),
        ("Status", "/Status"),
        ("", "/help"),
        ("email jane@acme.com about invoice 42", "email jane@acme.com about invoice 42"),
        ("approve p1", "/approve p1"),
    ],
)
def test_slacks_slash_command_is_read_through_the_same_words(slash: str, message: str) -> None:
    assert from_slash(slash) == message


def test_help_and_the_menu_list_every_offered_word_once() -> None:
    offered = [w.name for w in WORDS if w.menu]
    assert [name for name, _ in menu()] == offered
    text = help_text()
    for word in WORDS:
        assert (f"/{word.name}" in text) == word.menu or word.name == "task"
    assert "/help                             this list" in text
    assert all(3 <= len(description) <= 256 for _, description in menu())  # Telegram's limits
