"""The buttons after an apply that did not finish, on every channel: Send again / Mark as sent on an action
that may not have been sent, Run the rest after a failure, and none while it is being applied again."""

from __future__ import annotations

from typing import Any

from bot.console.render import render as console
from bot.slack.render import message as slack
from bot.telegram.render import render as telegram
from orchestrator.model import ActionStatus, Proposal, ProposalStatus, StagedAction
from orchestrator.outbound import Kind, Outbound
from tests.bot.cards import proposal


def after(*states: ActionStatus) -> Outbound:
    """An outcome message for a proposal whose actions ended in these states."""
    p: Proposal = proposal(pid="p7k2m9qx")
    first = p.actions[0]
    p.actions = [
        StagedAction(
            first.kind, dict(first.fields), first.summary, first.target, s, subject=first.subject, body=first.body
        )
        for s in states
    ]
    p.status = ProposalStatus.APPROVED
    return Outbound(kind=Kind.ERROR, text="May not have been sent: …", proposal=p, final=True)


def slack_buttons(out: Outbound) -> list[tuple[str, str]]:
    """The remedies (a card of several actions also has Full text, which shows their drafts)."""
    blocks: list[dict[str, Any]] = slack(out)[1]
    buttons = [b for block in blocks if block["type"] == "actions" for b in block["elements"]]
    return [(b["action_id"], b["value"]) for b in buttons if b["action_id"] != "deputy_full"]


def telegram_buttons(out: Outbound) -> list[str]:
    return [b.data for piece in telegram(out) for row in piece.keyboard for b in row]


def test_an_action_that_may_not_have_been_sent_offers_send_again_and_mark_as_sent() -> None:
    out = after(ActionStatus.APPLIED, ActionStatus.UNCERTAIN, ActionStatus.APPLYING)
    assert slack_buttons(out) == [("deputy_resend", "p7k2m9qx:1"), ("deputy_mark_sent", "p7k2m9qx:1")]
    assert telegram_buttons(out) == ["rs:p7k2m9qx:1", "ms:p7k2m9qx:1"]
    assert console(out).endswith("\n  /resend p7k2m9qx 2   /sent p7k2m9qx 2")


def test_send_again_asks_to_confirm_on_slack() -> None:
    blocks = slack(after(ActionStatus.UNCERTAIN))[1]
    again, mark = [b for block in blocks if block["type"] == "actions" for b in block["elements"]]
    assert again["action_id"] == "deputy_resend" and "arrives twice" in again["confirm"]["text"]["text"]
    assert mark["action_id"] == "deputy_mark_sent" and "confirm" not in mark


def test_a_failure_offers_run_the_rest_or_for_one_action_try_again() -> None:
    out = after(ActionStatus.APPLIED, ActionStatus.FAILED, ActionStatus.NOT_RUN)
    assert slack_buttons(out) == [("deputy_run_rest", "p7k2m9qx")]
    assert telegram_buttons(out) == ["rr:p7k2m9qx"]
    assert console(out).endswith("\n  /retry p7k2m9qx")
    [piece] = telegram(after(ActionStatus.FAILED))
    assert [b.text for row in piece.keyboard for b in row] == ["▶️ Try again"]


def test_no_remedy_while_it_is_being_applied_again_or_once_done() -> None:
    for states in [(ActionStatus.APPLIED, ActionStatus.APPLYING), (ActionStatus.APPLIED, ActionStatus.APPLIED)]:
        out = after(*states)
        assert slack_buttons(out) == [] and telegram_buttons(out) == []
        assert "/resend" not in console(out) and "/retry" not in console(out)


def test_a_failed_apply_is_one_sentence_with_the_retry_word_on_every_channel() -> None:
    from agents.jobs import in_words
    from orchestrator.errors import TransientConnectorError
    from orchestrator.handlers.tasks import failure_sentence

    reason = in_words(TransientConnectorError("webhook broken did not answer: Cannot connect to host 127.0.0.1:1"))
    text = failure_sentence("t7k2m9qx", reason, "p7k2m9qx")
    assert "Error" not in text and text.endswith("type /retry p7k2m9qx to try again.")
    out = Outbound(kind=Kind.ERROR, text=text, final=True)
    slack_text = str(slack(out))
    telegram_text = " ".join(piece.html for piece in telegram(out))
    for shown in (console(out), slack_text, telegram_text):
        assert "/retry p7k2m9qx" in shown and "TransientConnectorError" not in shown
