"""Always allow sits on a card of tool calls only, on every channel that has buttons."""

from __future__ import annotations

from typing import Any

from bot.slack.render import message as slack
from bot.telegram.render import render as telegram
from orchestrator.buttons import ALWAYS_ALLOW, from_slack, from_telegram
from orchestrator.model import StagedAction
from orchestrator.outbound import Kind, Outbound
from tests.bot.cards import proposal


def tool_card() -> Outbound:
    p = proposal(pid="p7k2m9qx")
    fields = {"tool": "books/add_note", "arguments": {"text": "hi"}, "seen": "f1"}
    p.actions = [StagedAction("mcp.call", fields, "Call books/add_note", "books (MCP)", body="text: hi")]
    p.actions[0].grant = "books/add_note"
    return Outbound(kind=Kind.CARD, text="", proposal=p)


def ids(out: Outbound) -> tuple[list[str], list[tuple[str, str]]]:
    blocks: list[dict[str, Any]] = slack(out)[1]
    on_slack = [
        (b["action_id"], b["value"]) for block in blocks if block["type"] == "actions" for b in block["elements"]
    ]
    return [b.data for piece in telegram(out) for row in piece.keyboard for b in row], on_slack


def test_a_tool_card_has_always_allow_and_a_press_reads_back_as_it() -> None:
    on_telegram, on_slack = ids(tool_card())
    assert "aa:p7k2m9qx:1" in on_telegram and ("deputy_always_allow", "p7k2m9qx") in on_slack
    pressed = from_telegram("aa:p7k2m9qx:1")
    assert pressed is not None and pressed[0] is ALWAYS_ALLOW and pressed[1].version == 1
    found = from_slack("deputy_always_allow", "p7k2m9qx", 1)
    assert found is not None and found[0] is ALWAYS_ALLOW and found[1].version == 1


def test_an_email_card_has_no_always_allow() -> None:
    on_telegram, on_slack = ids(Outbound(kind=Kind.CARD, text="", proposal=proposal()))
    assert not any(d.startswith("aa:") for d in on_telegram)
    assert not any(a == "deputy_always_allow" for a, _ in on_slack)
