"""The Telegram renderer: escaped HTML, callback data within 64 bytes, nothing over Telegram's limits."""

from __future__ import annotations

from html import unescape

import pytest

from bot.telegram.render import LIMIT, Button, Piece, render, render_full, split, utf16_len
from orchestrator.model import Actor, Decision, ProposalStatus, StagedAction, Verdict
from orchestrator.outbound import Kind, Outbound
from tests.bot.cards import AT, proposal

CARD = """\
📝 <b>Follow up with Jane on invoice 42</b>

• Send email “Invoice 42 &lt;overdue&gt; &amp; more” to jane@acme.com
  to: <b>jane@acme.com</b>
  subject: Invoice 42 &lt;overdue&gt; &amp; more
<blockquote expandable>Hi Jane,
A friendly nudge about invoice 42.
Sam</blockquote>
risk low · cost est. $0.0030 · spent $0.00
<i>proposal p7k2m9qx · v1 · email</i>"""


def buttons(piece: Piece) -> list[str]:
    return [b.data for row in piece.keyboard for b in row]


def test_card_snapshot_with_approve_reject_and_revise() -> None:
    [piece] = render(Outbound(kind=Kind.CARD, text="", proposal=proposal()))
    assert piece.html == CARD
    assert buttons(piece) == ["a:p7k2m9qx:1", "r:p7k2m9qx:1", "v:p7k2m9qx:1"]


def test_decided_card_states_the_outcome_and_drops_the_buttons() -> None:
    p = proposal()
    p.status = ProposalStatus.APPROVED
    p.decision = Decision(Verdict.APPROVE, Actor("telegram", "1", "@sam"), AT, 1)
    text = "Done: sent to jane@acme.com · approved by @sam 09:14 · $0.003"
    [piece] = render(Outbound(kind=Kind.OUTCOME, text=text, proposal=p, final=True))
    assert piece.html.endswith(f"<b>{text}</b>")
    assert piece.keyboard == []


def test_undo_button_while_held() -> None:
    p = proposal()
    p.status, p.hold_until = ProposalStatus.APPROVED, AT
    [piece] = render(Outbound(kind=Kind.OUTCOME, text="Approved — sending in 20 s", proposal=p))
    assert buttons(piece) == ["u:p7k2m9qx"]


def test_a_long_draft_sits_whole_in_the_expandable_quote_without_a_full_text_button() -> None:
    p = proposal(body="\n".join(f"line {i}" for i in range(200)))
    [piece] = render(Outbound(kind=Kind.CARD, text="", proposal=p))
    assert "<blockquote expandable>line 0\n" in piece.html and "line 199</blockquote>" in piece.html
    assert "f:p7k2m9qx" not in buttons(piece)


def test_a_draft_longer_than_the_quote_is_shortened_with_a_full_text_button() -> None:
    p = proposal(body="\n".join(f"line {i} " + "x" * 60 for i in range(200)))
    [piece] = render(Outbound(kind=Kind.CARD, text="", proposal=p))
    assert "line 199" not in piece.html and "…</blockquote>" in piece.html
    assert buttons(piece)[-1] == "f:p7k2m9qx"
    full = render_full(p)
    assert "line 199" in unescape(full[-1].html)


def test_callback_data_over_64_bytes_is_refused() -> None:
    with pytest.raises(ValueError, match="64 bytes"):
        Button("Approve", "a:" + "p" * 63)
    with pytest.raises(ValueError):
        render(Outbound(kind=Kind.CARD, text="", proposal=proposal(pid="x" * 70)))


def test_split_counts_utf16_and_keeps_everything() -> None:
    text = "🙂" * 3000 + "\n" + "a" * 5000
    chunks = split(text)
    assert all(utf16_len(c) <= LIMIT for c in chunks)
    assert "".join(chunks).replace("\n", "") == text.replace("\n", "")


def test_plain_text_is_escaped() -> None:
    [piece] = render(Outbound(kind=Kind.NOTICE, text="a <b> & c"))
    assert piece.html == "a &lt;b&gt; &amp; c"


def test_reminder_offers_snooze_and_the_digest_its_buttons() -> None:
    p = proposal()
    [reminder] = render(Outbound(kind=Kind.REMINDER, text="Still waiting for your decision (4 h): x", proposal=p))
    assert buttons(reminder) == ["a:p7k2m9qx:1", "r:p7k2m9qx:1", "v:p7k2m9qx:1", "s:p7k2m9qx", "t:p7k2m9qx"]
    assert "Still waiting for your decision" in reminder.html
    digest = render(Outbound(kind=Kind.DIGEST, text="Digest for Tue 03 Nov\n<b>", proposals=(p,), ref="d9"))
    assert buttons(digest[-1]) == ["a:p7k2m9qx:1", "r:p7k2m9qx:1", "al:d9"]
    assert "&lt;b&gt;" in digest[-1].html


def test_a_budget_question_says_what_its_buttons_do() -> None:
    p = proposal()
    p.playbook = "budget"
    p.actions[0] = StagedAction("budget.raise", {"date": "2026-11-03", "usd": 5.0}, "Raise", "budget")
    [piece] = render(Outbound(kind=Kind.CARD, text="", proposal=p))
    assert [b.text for row in piece.keyboard for b in row] == ["✅ Raise today's budget by $5.00", "✖️ Stop"]
    assert buttons(piece) == ["a:p7k2m9qx:1", "r:p7k2m9qx:1"]
