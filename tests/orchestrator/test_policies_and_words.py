from __future__ import annotations

import pytest

from orchestrator import policies
from orchestrator.errors import BadRequest, PolicyDenied
from orchestrator.fakes.world import FakeClock
from orchestrator.model import Actor, ChatRef, Proposal, StagedAction
from orchestrator.policies import AutoRule
from orchestrator.words import lex


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


def proposal_of(*actions: StagedAction, cost: float = 0.0) -> Proposal:
    return Proposal(
        id="p1",
        task_id="t1",
        chat=ChatRef("console", "local"),
        playbook="x",
        summary="s",
        actions=list(actions),
        created_at=FakeClock().now(),
        cost_estimate_usd=cost,
    )


NOTE = StagedAction("note.save", {}, "s", "Deputy notes")
EMAIL = StagedAction("email.send", {}, "s", "jane@acme.com")
NOTES_ALWAYS = AutoRule("notes-always", "note.save")
KNOWN_CLIENTS = AutoRule("known-clients", "email.send", recipient_in_memory=True, max_cost_usd=0.05)


def test_nothing_auto_approves_without_a_matching_rule_for_every_action() -> None:
    assert policies.auto_approval_rule(proposal_of(NOTE), [], frozenset()) is None
    assert policies.auto_approval_rule(proposal_of(NOTE, EMAIL), [NOTES_ALWAYS], frozenset()) is None
    assert policies.auto_approval_rule(proposal_of(NOTE), [NOTES_ALWAYS], frozenset()) == "notes-always"


def test_email_rule_needs_a_known_recipient_and_a_low_cost() -> None:
    rules = [NOTES_ALWAYS, KNOWN_CLIENTS]
    assert policies.auto_approval_rule(proposal_of(EMAIL), rules, frozenset()) is None
    assert policies.auto_approval_rule(proposal_of(EMAIL), rules, frozenset({"jane@acme.com"})) == "known-clients"
    assert policies.auto_approval_rule(proposal_of(EMAIL, cost=0.10), rules, frozenset({"jane@acme.com"})) is None


def test_a_blocked_proposal_is_never_auto_approved() -> None:
    blocked = proposal_of(NOTE)
    blocked.blocked_reason = "not configured"
    assert policies.auto_approval_rule(blocked, [NOTES_ALWAYS], frozenset()) is None


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
    words = lex(text)
    assert (words.verb, words.arg) == (verb, arg)


def test_reject_reason_is_the_rest() -> None:
    words = lex("/reject p1 wrong tone")
    assert (words.first, words.rest) == ("p1", "wrong tone")
