"""The buttons table: every button's wire forms are the ones cards already in chats carry, they read back to
the same button and target, and the memory words are parsed once into a typed ask."""

from __future__ import annotations

import pytest

from orchestrator import commands as cmd
from orchestrator.actors import MemoryAsk, MemoryWord
from orchestrator.buttons import (
    APPROVE,
    APPROVE_LOW,
    BUTTONS,
    CANCEL,
    MARK_SENT,
    RESEND,
    REVISE,
    SNOOZE,
    TOMORROW,
    Button,
    Target,
    from_slack,
    from_telegram,
)
from tests.orchestrator.test_words import said

CARD = Target("p7k2m9qx", version=3, index=1)


@pytest.mark.parametrize(
    ("button", "data", "value"),
    [
        (APPROVE, "a:p7k2m9qx:3", "p7k2m9qx"),
        (REVISE, "v:p7k2m9qx:3", "p7k2m9qx"),
        (RESEND, "rs:p7k2m9qx:1", "p7k2m9qx:1"),
        (MARK_SENT, "ms:p7k2m9qx:1", "p7k2m9qx:1"),
        (SNOOZE, "s:p7k2m9qx", "p7k2m9qx|1h"),
        (TOMORROW, "t:p7k2m9qx", "p7k2m9qx|tomorrow"),
        (CANCEL, "c:p7k2m9qx", "p7k2m9qx"),
    ],
)
def test_the_wire_forms_stay_as_cards_in_chats_carry_them(button: Button, data: str, value: str) -> None:
    assert (button.telegram(CARD), button.slack_value(CARD)) == (data, value)


@pytest.mark.parametrize("button", [b for b in BUTTONS if b.code], ids=lambda b: b.name)
def test_every_press_reads_back_as_its_button(button: Button) -> None:
    found = from_telegram(button.telegram(CARD))
    assert found is not None and found[0] is button and len(button.telegram(CARD).encode()) <= 64
    found = from_slack(button.action_id, button.slack_value(CARD), CARD.version)
    assert found is not None and found[0] is button and found[1].id == CARD.id


def test_old_cards_and_unknown_codes() -> None:
    assert from_telegram("a:p1") == (APPROVE, Target("p1"))  # a card drawn before versions
    assert from_telegram("zz:p1") is None
    assert from_telegram("al:d9") == (APPROVE_LOW, Target("d9"))
    assert len({b.code for b in BUTTONS if b.code}) == len([b for b in BUTTONS if b.code])


@pytest.mark.parametrize(
    ("text", "ask"),
    [
        ("/remember ACME pays net 30", MemoryAsk(MemoryWord.REMEMBER, "ACME pays net 30")),
        ("/recall ACME", MemoryAsk(MemoryWord.RECALL, "ACME")),
        ("/forget m3", MemoryAsk(MemoryWord.FORGET, "m3")),
        ("Remember ACME pays net 30", MemoryAsk(MemoryWord.REMEMBER, "ACME pays net 30")),
        ("email jane@acme.com to remember the invoice", None),
    ],
)
def test_the_memory_words_are_parsed_once(text: str, ask: MemoryAsk | None) -> None:
    command = said(text)
    assert isinstance(command, cmd.SubmitTask) and command.memory == ask
