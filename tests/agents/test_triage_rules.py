"""Triage is the inbox playbook's rules: the built-in file sorts mail exactly as the fixed patterns it replaced did
(kept here as the oracle), an operator's own inbox.yaml changes how mail is sorted, and a bad one is refused with
its file and the reason. Matching stays linear on hostile text whatever the file says."""

from __future__ import annotations

import random
import re
from pathlib import Path
from typing import Any

import pytest

from agents import playbooks, triage
from agents.triage_rules import TriageRule, phrase_pattern
from connectors import mime
from orchestrator.errors import ConfigError
from tests.connectors.test_mime import malformed, valid

KINDS = frozenset({"email.send", "email.reply", "webhook.post", "note.save", "task.later", "record.create"}) | {
    "record.update",
    "mcp.call",
    "calendar.event",
}

# The fixed patterns agents/triage.py had before triage became the playbook's rules, as they were.
_SPAM = re.compile(
    r"\b(?:viagra|casino|lottery|you(?:'ve| have) won|crypto\s+giveaway|wire\s+transfer\s+fee|claim\s+your\s+prize"
    r"|act\s+now|100% free|weight\s+loss)\b",
    re.I,
)
_INVOICE = re.compile(
    r"\b(?:invoice|receipt|payment\s+(?:received|confirmation|due)|amount\s+due|order\s+#?\d+)\b", re.I
)
_NEWSLETTER = re.compile(
    r"\b(?:unsubscribe|newsletter|view\s+(?:it\s+)?in\s+(?:your\s+)?browser|weekly\s+digest)\b", re.I
)
_NOREPLY = re.compile(r"^(?:no-?reply|do-?not-?reply|mailer-daemon|notifications?|news|newsletter)@", re.I)
_ASKS = re.compile(
    r"\?|\b(?:could|can|would|will)\s+you\b|\bplease\s+(?:confirm|advise|reply|send|call)\b|\blet\s+me\s+know\b"
    r"|\bget\s+back\b|\bare\s+you\s+available\b",
    re.I,
)


def oracle(mail: dict[str, Any]) -> str:
    text = f"{mail.get('subject', '')}\n{mail.get('text', '')}"
    sender = str(mail.get("sender", ""))
    if not sender or _SPAM.search(text):
        return "spam"
    if mail.get("bulk") or _NOREPLY.match(sender) or _NEWSLETTER.search(text):
        return "newsletter"
    if _ASKS.search(text):
        return "needs reply"
    return "invoice" if _INVOICE.search(text) else "FYI"


SUBJECTS = ["Invoice 42", "Re: order #1234", "Quick question", "Weekly digest", "Hello", "", "Act now!", "Receipt"]
TEXTS = [
    "Could you send me the corrected invoice by Friday?",
    "Payment received, thank you.",
    "Amount due: 120 EUR.",
    "You've won a lottery! Claim your prize",
    "View it in your browser. Unsubscribe here.",
    "Let me know when you are free",
    "Minutes of today's call attached.",
    "Your order 5531 has shipped",
    "100% free weight loss",
    "Are you available on Tuesday",
    "ordering 12 things; reorder 5",
    "invoices and receipts, not an invoice-less day",
    "CAN   YOU\ncall?",
    "newsletters are not a newsletter",
    "please\tconfirm the booking",
]
SENDERS = ["jane@acme.example", "noreply@shop.example", "No-Reply@x.example", "news@paper.example", ""]
SENDERS += ["x@news.example", "notifications@github.example", "mailer-daemon@mx.example", "newsletters@x.example"]
SENDERS += ["do-notreply@y.example"]


def cases() -> list[dict[str, Any]]:
    rng = random.Random(27)
    found = []
    for _ in range(3000):
        text = " ".join(rng.sample(TEXTS, rng.randint(0, 3)))
        found.append({"subject": rng.choice(SUBJECTS), "text": text, "sender": rng.choice(SENDERS)})
        found[-1]["bulk"] = rng.choice(["", "", "List-Id"])
    pool = [valid(random.Random(i)) for i in range(30)]
    found += [mime.parse(malformed(rng, pool)).as_dict() for _ in range(1000)]
    return found


def test_the_built_in_rules_sort_mail_as_the_fixed_patterns_did() -> None:
    sorted_ = [(m, triage.triage(m), oracle(m)) for m in cases()]
    assert [case for case in sorted_ if case[1] != case[2]] == []
    assert {kind for _, kind, _ in sorted_} == set(triage.KINDS)


def _own(tmp_path: Path, rules: str, *, name: str = "inbox") -> Path:
    directory = tmp_path / "playbooks"
    directory.mkdir(exist_ok=True)
    built_in = (playbooks.BUILT_IN / "inbox.yaml").read_text()
    text = built_in[: built_in.index("\ntriage:") + 1] + rules
    (directory / f"{name}.yaml").write_text(text.replace("name: inbox", f"name: {name}"))
    return directory / f"{name}.yaml"


BIGCLIENT = """triage:
  - kind: needs reply
    from: "@bigclient.com"
    words: [quote, "price list"]
  - kind: FYI
    words: receipt
  - kind: spam
    no_sender: true
  - kind: invoice
    subject: [invoice]
  - kind: needs reply
    asks: true
  - kind: FYI
"""


def test_an_operators_inbox_playbook_changes_how_mail_is_sorted(tmp_path: Path) -> None:
    mail = {"sender": "Ann@BigClient.com", "subject": "New quote", "text": "Here is the quote for Q3."}
    assert triage.triage(mail) == "FYI"  # the built-in rules: it asks nothing
    receipt = {"sender": "shop@store.example", "subject": "Your receipt", "text": "Thanks for your order."}
    assert triage.triage(receipt) == "invoice"
    _own(tmp_path, BIGCLIENT)
    rules = triage.rules(tmp_path, KINDS)
    assert triage.triage(mail, rules) == "needs reply"
    assert triage.triage({**mail, "sender": "ann@smallclient.com"}, rules) == "FYI"
    assert triage.triage({**mail, "subject": "Q3", "text": "The quotes page."}, rules) == "FYI"  # whole words only
    assert triage.triage(receipt, rules) == "FYI"
    invoice = {"subject": "Invoice 9", "text": "Could you pay?", "sender": "a@b.example"}
    assert triage.triage(invoice, rules) == "invoice"


BAD = [
    ("  - kind: urgent\n", "triage.0.kind: Input should be 'needs reply', 'FYI', 'invoice', 'newsletter' or 'spam'"),
    ("  - kind: spam\n    colour: red\n", "triage.0: unknown condition 'colour' (kind, then any of words,"),
    ("  - kind: spam\n    words: {a: b}\n", "triage.0.words"),
    ("  - kind: spam\n    bulk: sometimes\n", "triage.0.bulk"),
    ("  - kind: spam\n    from: [jane]\n", "from 'jane' is not an address, name@*, or @domain"),
    ("  - kind: spam\n    words: ['  ']\n", "is not a word or phrase"),
    ("  - kind: spam\n    words: [(a+)+$]\n", ""),  # not refused: a phrase is words, never a pattern (below)
]


@pytest.mark.parametrize(("rules", "reason"), BAD)
def test_a_bad_triage_rule_is_refused_with_its_file_and_reason(tmp_path: Path, rules: str, reason: str) -> None:
    path = _own(tmp_path, "triage:\n" + rules)
    if not reason:
        assert triage.rules(tmp_path, KINDS)[0].words == ["(a+)+$"]
        return
    with pytest.raises(ConfigError, match=re.escape(reason)) as raised:
        playbooks.load(playbooks.directories(tmp_path), KINDS)
    assert str(path) in str(raised.value)


def test_triage_rules_belong_to_the_inbox_playbook_only(tmp_path: Path) -> None:
    _own(tmp_path, "triage:\n  - kind: spam\n", name="mine")
    with pytest.raises(ConfigError, match="triage: rules belong to the playbook named inbox"):
        playbooks.load(playbooks.directories(tmp_path), KINDS)
    (tmp_path / "playbooks" / "mine.yaml").unlink()
    _own(tmp_path, "")
    with pytest.raises(ConfigError, match=r"inbox.yaml: .*which needs them"):
        playbooks.load(playbooks.directories(tmp_path), KINDS)


def test_a_file_broken_while_deputy_runs_keeps_the_last_good_rules(tmp_path: Path) -> None:
    path = _own(tmp_path, BIGCLIENT)
    good = triage.rules(tmp_path, KINDS)
    path.write_text(path.read_text().replace("kind: invoice", "kind: urgent") + "\n# changed\n")
    assert triage.rules(tmp_path, KINDS) == good


def test_an_operators_phrase_is_words_never_a_pattern_and_matching_stays_linear() -> None:
    rule = TriageRule.model_validate({"kind": "spam", "words": ["(a+)+$", "a a a a a a a a b", "order #{number}"]})
    assert not rule.fits({"sender": "x@y.example", "subject": "", "text": "a" * 40})
    assert rule.fits({"sender": "x@y.example", "subject": "", "text": "see (a+)+$ here"})
    assert rule.fits({"sender": "x@y.example", "subject": "", "text": "Order  #77."})
    pattern = phrase_pattern(["a a a a a a a a b", "1 {number} x"])
    for hostile in ("a " * 4000, "a" * 8000, "1 " + "1" * 8000, "a \t" * 2700):  # `(a+)+$` would never end here
        assert pattern.search(hostile) is None
    assert r"\s++" in pattern.pattern and r"\d++" in pattern.pattern  # possessive: nothing is given back
