"""Records on Slack (real Bolt, signed requests, the fake Web API, a real worker): typed edits and /who through the
/deputy command answer in the DM, and an agent-proposed terms change is a card showing the field change whose
Approve, pressed twice, applies it once."""

from __future__ import annotations

from typing import Any

from tests.conftest import eventually
from tests.e2e.test_slack import Deputy, deputy, slack_env
from tests.fakes import slack_api as slack
from tests.fakes.slack_api import DM

__all__ = ["deputy", "slack_env"]  # the fixtures this module shares


def said(deputy: Deputy, words: str) -> list[str]:
    """Every message in the DM (posted or edited) whose words, as a person reads them, have these."""
    calls = [c for c in deputy.api.calls if c.method in ("chat.postMessage", "chat.update")]
    texts = [words_of(c.params) for c in calls if c.params.get("channel") == DM]
    return [t for t in texts if words in t]


def words_of(value: Any) -> str:
    """The text of a message and its blocks, nested, without the JSON around it."""
    if isinstance(value, dict):
        return "\n".join(words_of(v) for k, v in value.items() if k in ("text", "blocks", "elements", "fields"))
    if isinstance(value, list):
        return "\n".join(words_of(v) for v in value)
    return value if isinstance(value, str) else ""


async def typed(deputy: Deputy, text: str, answer: str) -> str:
    assert await deputy.send(slack.command(text), form=True) == 200
    found: list[str] = await eventually(lambda: said(deputy, answer), 20, answer)
    return found[-1]


def approve(pid: str, ts: str) -> dict[str, Any]:
    click = slack.click("deputy_approve", pid, ts=ts)
    click["actions"][0]["block_id"] = f"deputy:{pid}:1"
    return click


async def test_who_and_a_terms_change_card_on_slack(deputy: Deputy) -> None:
    await typed(deputy, "client Acme Corp email jane@acme.com", "New client Acme Corp (c1)")
    await typed(deputy, "client Acme Corp terms net 30", "terms (none) → net 30")
    who = await typed(deputy, "who acme.com", "Acme Corp (c1) · client")
    assert "terms: net 30 — " in who and "jane@acme.com" in who

    await deputy.card_for("Acme Corp moved to net 45, update their terms")
    card = (await eventually(lambda: [c for c in deputy.cards() if "Update Acme Corp" in c.text], 30, "card"))[-1]
    assert "Update Acme Corp — terms: net 30 → net 45" in words_of(card.params)
    pid, ts = card.params["blocks"][-1]["elements"][0]["value"], card.params["ts"]
    assert await deputy.send(approve(pid, ts), form=True) == 200
    assert await deputy.send(approve(pid, ts), form=True) == 200  # a double click
    await eventually(lambda: said(deputy, "Updated Acme Corp: terms net 30 → net 45"), 30, "done")
    acme = await deputy.runtime.coordinator.core.book.get("c1")
    assert acme is not None and acme.fields["terms"] == "net 45"
    assert [c.field for c in acme.history].count("terms") == 2  # applied once
    assert "terms: net 45 — approved action" in await typed(deputy, "who Acme Corp", "terms: net 45")
