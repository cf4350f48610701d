"""A card that scheduled a request for later offers Cancel (Slack `deputy_cancel`, Telegram `c:<id>`, the
console's /cancel) until the request ran or was cancelled."""

from __future__ import annotations

from bot.console.render import render as console
from bot.slack.render import message as slack
from bot.telegram.render import render as telegram
from orchestrator.model import ActionStatus, ProposalStatus, StagedAction
from orchestrator.outbound import Kind, Outbound
from tests.bot.cards import proposal


def done(word: str = "") -> Outbound:
    p = proposal()
    p.status = ProposalStatus.APPROVED
    p.actions = [
        StagedAction(
            kind="task.later",
            fields={"at": "2026-12-04T09:00:00+00:00", "request": "email jane@acme.com a follow-up", "remind": False},
            summary="On Fri 4 Dec 09:00 (UTC) I'll draft: email jane@acme.com a follow-up",
            target="this chat",
            status=ActionStatus.APPLIED,
            outcome="Scheduled for Fri 4 Dec 09:00 (UTC)",
            word=word,
        )
    ]
    return Outbound(kind=Kind.OUTCOME, text="Done: Scheduled for Fri 4 Dec 09:00 (UTC)", proposal=p, final=True)


def buttons(out: Outbound) -> tuple[list[str], list[str]]:
    _, blocks = slack(out)
    [piece] = telegram(out)
    ids = [e["action_id"] for b in blocks if b["type"] == "actions" for e in b["elements"]]
    return ids, [b.data for row in piece.keyboard for b in row]


def test_a_scheduled_request_can_be_cancelled_until_something_became_of_it() -> None:
    assert buttons(done()) == (["deputy_cancel"], ["c:p7k2m9qx"])
    assert console(done()).endswith("\n  /cancel p7k2m9qx")
    for word in ("ran as task t9 at 09:00", "cancelled by @sam at 08:50"):
        assert buttons(done(word)) == ([], [])
        assert "/cancel" not in console(done(word))
