"""What the cards say about revisions, on every channel: the version and its feedback, a Revise button on every
pending card but Deputy's budget question, and after a rejection with a reason a one-tap Revise with this instead
(where the platform has buttons) until it is used."""

from __future__ import annotations

from bot.console.render import render as console
from bot.slack.render import message as slack
from bot.telegram.render import render as telegram
from orchestrator.model import Actor, Decision, Proposal, ProposalStatus, Verdict
from orchestrator.outbound import Kind, Outbound
from tests.bot.cards import AT, proposal


def revised() -> Proposal:
    p = proposal()
    p.version, p.revised = 2, "warmer, mention the late fee"
    return p


def rejected(reason: str) -> Outbound:
    p = proposal()
    p.status = ProposalStatus.REJECTED
    p.decision = Decision(Verdict.REJECT, Actor("slack", "U1", "@sam"), AT, 1, reason)
    return Outbound(kind=Kind.OUTCOME, text=f"Rejected {p.id} (@sam). Nothing was done.", proposal=p, final=True)


def slack_ids(out: Outbound) -> list[str]:
    _, blocks = slack(out)
    return [e["action_id"] for b in blocks if b["type"] == "actions" for e in b["elements"]]


def telegram_data(out: Outbound) -> list[str]:
    [piece] = telegram(out)
    return [b.data for row in piece.keyboard for b in row]


def test_the_card_says_which_version_and_what_revised_it() -> None:
    card = Outbound(kind=Kind.CARD, text="", proposal=revised())
    [piece] = telegram(card)
    assert "<i>proposal p7k2m9qx · v2 · revised: “warmer, mention the late fee” · email</i>" in piece.html
    assert telegram_data(card)[:3] == ["a:p7k2m9qx:2", "r:p7k2m9qx:2", "v:p7k2m9qx:2"]
    _, blocks = slack(card)
    assert "proposal `p7k2m9qx` v2 · revised: “warmer, mention the late fee”" in blocks[-2]["elements"][0]["text"]
    assert console(card).startswith("┌ Proposal p7k2m9qx · v2 · revised: “warmer, mention the late fee” · email")
    assert console(card).endswith("/revise p7k2m9qx <what to change>")


def test_the_budget_question_has_no_revise() -> None:
    p = proposal()
    p.playbook = "budget"
    p.actions[0].fields["usd"] = 5.0
    card = Outbound(kind=Kind.CARD, text="", proposal=p)
    assert "deputy_revise" not in slack_ids(card) and not any(d.startswith("v:") for d in telegram_data(card))


def test_a_rejection_with_a_reason_offers_revise_with_this_instead_until_it_is_used() -> None:
    offered = rejected("too stiff")
    assert slack_ids(offered) == ["deputy_revise_instead"] and telegram_data(offered) == ["rv:p7k2m9qx"]
    assert slack_ids(rejected("")) == [] and telegram_data(rejected("")) == []
    assert offered.proposal is not None
    offered.proposal.revised_as = "p8"
    assert slack_ids(offered) == [] and telegram_data(offered) == []
