"""Revise on Slack end to end (real Bolt, signed requests, the fake Web API, a real worker, the offline model): the
Revise button opens a modal with one field, "What should change?"; its submission redraws the same card as
version 2, an Approve on the version-1 card is refused as superseded, and the email approved on the new card is the
revised one. A rejection with a reason offers Revise with this instead, which makes a new proposal."""

from __future__ import annotations

from typing import Any

from tests.conftest import Smtp, eventually
from tests.e2e.test_slack import Deputy, deputy, slack_env, submit, updates_with
from tests.fakes import slack_api as slack
from tests.fakes.slack_api import Call

__all__ = ["deputy", "slack_env"]  # the fixtures this module shares
ASK = "email jane@acme.com about invoice 42"


def pressed(action_id: str, pid: str, ts: str, version: int | None = None) -> dict[str, Any]:
    """A button on the card as drawn for `version` (its actions block's id says which)."""
    click = slack.click(action_id, pid, ts=ts)
    click["actions"][0]["block_id"] = f"deputy:{pid}:{version}" if version else "b"
    return click


def feedback(text: str) -> dict[str, Any]:
    return {"feedback": {"value": {"type": "plain_text_input", "value": text}}}


def said(call: Call) -> str:
    """The card's words as a person reads them (the blocks' text, not their JSON)."""
    blocks = call.params.get("blocks") or []
    texts = [b.get("text", {}).get("text", "") for b in blocks] + [
        e.get("text", "") for b in blocks if b["type"] == "context" for e in b["elements"]
    ]
    return "\n".join(texts)


def body_of(smtp: Smtp) -> str:
    payload = smtp.messages[0].get_payload(decode=True)
    assert isinstance(payload, bytes)
    return payload.decode()


async def test_revise_modal_redraws_the_card_and_the_old_card_cant_approve(deputy: Deputy, smtp: Smtp) -> None:
    card = await deputy.card_for(ASK)
    pid, ts = card.params["blocks"][-1]["elements"][0]["value"], card.params["ts"]
    assert await deputy.send(pressed("deputy_revise", pid, ts, 1), form=True) == 200
    opened = await eventually(lambda: deputy.api.sent("views.open"), 10, "the revise modal")
    view = opened[0].params["view"]
    assert view["callback_id"] == "deputy_revise_feedback"
    assert [b["label"]["text"] for b in view["blocks"] if b["type"] == "input"] == ["What should change?"]
    assert await deputy.send(submit(view, feedback("warmer, mention the late fee")), form=True) == 200
    revised: list[Call] = await eventually(lambda: updates_with(deputy, "revised:"), 30, "the revised card")
    assert revised[-1].params["ts"] == ts  # replaced in place
    assert "v2 · revised: “warmer, mention the late fee”" in said(revised[-1])
    assert revised[-1].action_ids()[:3] == ["deputy_approve", "deputy_reject", "deputy_revise"]
    assert revised[-1].action_ids()[-1] == "deputy_full"  # the card shows the first lines; Full text the rest
    stored = await deputy.runtime.store.get_proposal(pid)
    assert stored is not None and "I also wanted to mention the late fee." in str(stored.actions[0].fields["body"])

    assert await deputy.send(pressed("deputy_approve", pid, ts, 1), form=True) == 200  # the old card's button
    refusal = await eventually(lambda: deputy.api.sent("chat.postEphemeral"), 20, "the refusal")
    assert f"Proposal {pid} changed since this card (v1): it is now version 2" in refusal[-1].params["text"]
    assert smtp.messages == []
    assert await deputy.send(pressed("deputy_approve", pid, ts, 2), form=True) == 200
    await eventually(lambda: len(smtp.messages) == 1, 30, "the email")
    assert "the late fee" in body_of(smtp) and "I hope you're doing well." in body_of(smtp)


async def test_a_rejection_with_a_reason_offers_revise_with_this_instead(deputy: Deputy) -> None:
    card = await deputy.card_for(ASK)
    pid, ts = card.params["blocks"][-1]["elements"][0]["value"], card.params["ts"]
    assert await deputy.send(slack.command(f"reject {pid} shorter"), form=True) == 200
    rejected: list[Call] = await eventually(lambda: updates_with(deputy, "Rejected"), 20, "the rejection")
    assert rejected[-1].action_ids() == ["deputy_revise_instead", "deputy_full"]
    assert await deputy.send(pressed("deputy_revise_instead", pid, ts), form=True) == 200
    fresh = await eventually(
        lambda: [c for c in deputy.api.sent("chat.postMessage") if "revised: “shorter”" in said(c)], 30, "a new card"
    )
    assert f"(revises {pid})" in said(fresh[-1]) and "deputy_approve" in fresh[-1].action_ids()
    proposal = await deputy.runtime.store.get_proposal(pid)
    assert proposal and proposal.status.value == "rejected" and proposal.revised_as
    assert proposal.revised_as in said(fresh[-1])
