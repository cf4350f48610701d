from __future__ import annotations

import pytest

from orchestrator import policies
from orchestrator.errors import BadRequest, PolicyDenied
from orchestrator.model import Actor, StagedAction
from orchestrator.words import parse


def test_console_user_is_always_an_operator() -> None:
    assert policies.is_operator(Actor("console", "anyone"), frozenset())


def test_slack_user_must_be_listed_and_is_told_their_id() -> None:
    assert policies.is_operator(Actor("slack", "U1"), frozenset({"slack:U1"}))
    with pytest.raises(PolicyDenied, match=r"Your id is telegram:42.*DEPUTY_OPERATORS"):
        policies.require_operator(Actor("telegram", "42"), frozenset({"slack:U1"}), "approve")


@pytest.mark.parametrize("text", ["", "   \n", "x" * 100_000])
def test_empty_or_huge_requests_are_refused_with_a_reason(text: str) -> None:
    with pytest.raises(BadRequest, match=r"empty|limit"):
        policies.check_request_text(text)


def test_nothing_auto_approves_without_a_rule_for_every_action() -> None:
    note = StagedAction("note.save", {}, "s", "t")
    email = StagedAction("email.send", {}, "s", "t")
    assert policies.auto_approval_rule([note], {}) is None
    assert policies.auto_approval_rule([note, email], {"note.save": "notes-always"}) is None
    assert policies.auto_approval_rule([note], {"note.save": "notes-always"}) == "notes-always"


@pytest.mark.parametrize(
    ("text", "verb", "arg"),
    [
        ("email jane@acme.com hi", "", "email jane@acme.com hi"),
        ("/task email bob", "", "email bob"),
        ("/approve p1", "approve", "p1"),
        ("/Approve@deputy_bot p1", "approve", "p1"),
        ("/reject p1 wrong tone", "reject", "p1 wrong tone"),
        ("/status", "status", ""),
    ],
)
def test_chat_words_parse_the_same_everywhere(text: str, verb: str, arg: str) -> None:
    words = parse(text)
    assert (words.verb, words.arg) == (verb, arg)


def test_reject_reason_is_the_rest() -> None:
    words = parse("/reject p1 wrong tone")
    assert (words.first, words.rest) == ("p1", "wrong tone")
