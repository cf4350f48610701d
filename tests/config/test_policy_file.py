"""policies.yaml: the shipped default, and clear errors for a broken copy."""

from __future__ import annotations

from pathlib import Path

import pytest

from config.policy_file import DEFAULT, load_policies, policy_path
from connectors import email, notes, webhook
from orchestrator.errors import ConfigError
from orchestrator.policies import CARD_NOW, card_rule

KINDS = {email.TRAITS, notes.TRAITS, webhook.TRAITS}


def test_default_auto_approves_notes_only_and_holds_email_for_undo() -> None:
    policies = load_policies(DEFAULT, KINDS)
    assert [(r.name, r.kind) for r in policies.auto_approve] == [("notes-always", "note.save")]
    assert policies.undoable == frozenset({"email.send"})
    assert policies.card_now == CARD_NOW  # the shipped file's inbox: section is the default's


def test_inbox_rules_card_what_they_name(tmp_path: Path) -> None:
    path = tmp_path / "policies.yaml"
    path.write_text(
        "inbox:\n  card_now:\n    - name: clients\n      from_client: true\n"
        "    - name: bank\n      from: '@Bank.example'\n      triage: [invoice, FYI]\n"
    )
    rules = load_policies(path, KINDS).card_now

    def card(triage: str, sender: str, client: bool = False) -> str | None:
        return card_rule(rules, triage, client=client, sender=sender)

    assert card("FYI", "jane@acme.example", client=True) == "clients"
    assert card("FYI", "jane@acme.example") is None  # no rule for needs reply either, in this file
    assert card("needs reply", "x@else.example") is None
    assert card("invoice", "billing@bank.example") == "bank" and card("spam", "billing@bank.example") is None


def test_a_copy_in_the_data_dir_wins(tmp_path: Path) -> None:
    assert policy_path(tmp_path) == DEFAULT
    (tmp_path / "policies.yaml").write_text("auto_approve: []\n")
    assert load_policies(policy_path(tmp_path), KINDS).auto_approve == ()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("auto_approve:\n  - name: x\n    kind: sms.send\n", "unknown action kind sms.send"),
        ("auto_approve:\n  - name: x\n    kind: note.save\n    when: always\n", "auto_approve.0.when"),
        ("undoable: [email.send\n", "can't read policies"),
        ("inbox:\n  card_now:\n    - name: hot\n      triage: urgent\n", r"inbox.card_now.0 \(hot\): triage 'urgent'"),
        ("inbox:\n  card_now:\n    - name: b\n      from: bank\n", r"inbox.card_now.0 \(b\): from 'bank' is neither"),
        ("inbox:\n  card_now:\n    - name: b\n      sender_is: x\n", "inbox.card_now.0.sender_is"),
    ],
)
def test_mistakes_name_the_file_and_the_entry(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "policies.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=message) as caught:
        load_policies(path, KINDS)
    assert str(path) in str(caught.value)


def test_minutes_saved_default_and_a_copy_overrides_per_kind(tmp_path: Path) -> None:
    assert load_policies(DEFAULT, KINDS).minutes == {"email.send": 6, "note.save": 2, "webhook.post": 3}
    path = tmp_path / "policies.yaml"
    path.write_text("minutes_saved:\n  email.send: 10\n")
    assert load_policies(path, KINDS).minutes == {"email.send": 10, "note.save": 2, "webhook.post": 3}
    path.write_text("auto_approve: []\n")  # an older copy without the key keeps the defaults
    assert load_policies(path, KINDS).minutes["email.send"] == 6


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("minutes_saved:\n  sms.send: 3\n", "unknown action kind sms.send"),
        ("minutes_saved:\n  email.send: -1\n", "minutes_saved.email.send: Input should be greater than or equal to 0"),
        ("minutes_saved:\n  email.send: lots\n", "minutes_saved.email.send"),
    ],
)
def test_bad_minutes_name_the_file_and_the_entry(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "policies.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=message) as caught:
        load_policies(path, KINDS)
    assert str(path) in str(caught.value)
