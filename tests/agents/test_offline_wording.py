"""What the built-in offline model's drafts say, as the operator reads them: a plan's headline once, an email
about a long topic drafted with a short subject and headline, and a memory answer that gives a fact once."""

from __future__ import annotations

import json

from agents.headlines import clip
from agents.rewrites import revise
from bot.cards import view
from bot.console.render import card
from bot.wiring import Runtime
from orchestrator.model import Proposal, ProposalDraft, Reply
from orchestrator.outbound import Kind, Outbound
from tests.agents.conftest import Llm
from tests.agents.test_offline import task
from tests.orchestrator.conftest import CONSOLE
from tests.orchestrator.test_model import NOW


def proposal_of(runtime: Runtime, draft: ProposalDraft) -> Proposal:
    """The proposal the core stages from the draft: each action as its connector validates and describes it."""
    actions = [runtime.coordinator.core.stage(kind, fields) for kind, fields in draft.actions]
    return Proposal("p1", "t1", CONSOLE, draft.playbook, draft.summary, actions, NOW, risk=draft.risk)


async def test_a_plan_says_plan_for_once_on_its_card(runtime: Runtime) -> None:
    draft = await runtime.drafter.draft(task("plan the launch of the new pricing page"))
    assert isinstance(draft, ProposalDraft)
    [(kind, fields)] = draft.actions
    assert kind == "note.save" and fields["title"] == "plan the launch of the new pricing page"
    assert draft.summary.splitlines()[0] == "Plan for: plan the launch of the new pricing page"
    assert fields["body"].startswith("1. Pin down the goal")
    proposal = proposal_of(runtime, draft)
    console = card(proposal)
    assert console.count("Plan for:") == 1, console
    assert "│   1. Pin down the goal, the deadline and who is involved." in console
    # what Slack and Telegram lay out: the card's title, then each action
    shown = view(Outbound(kind=Kind.CARD, text="", proposal=proposal))
    assert shown is not None
    chat = "\n".join([shown.title, *(f"{a.summary}\n{a.subject}\n{a.body}" for a in shown.actions)])
    assert chat.count("Plan for:") == 1 and chat.count("1. Pin down the goal") == 1, chat


async def test_an_email_about_a_long_topic_is_drafted_with_a_short_subject_and_headline(runtime: Runtime) -> None:
    topic = " ".join(["the revised pricing of the enterprise tier for the next fiscal year"] * 6)[:400].strip()
    assert len(topic) >= 390
    draft = await runtime.drafter.draft(task(f"email jane@acme.com a follow-up about {topic}"))
    assert isinstance(draft, ProposalDraft), draft
    [(kind, fields)] = draft.actions
    assert kind == "email.send" and fields["to"] == "jane@acme.com"
    headline = draft.summary.splitlines()[0]
    assert len(draft.summary) <= 300 and headline.startswith("Email jane@acme.com: Follow-up about the revised")
    assert headline.endswith("…") and fields["subject"].endswith("…") and len(fields["subject"]) <= 80
    cut = fields["subject"].removesuffix("…")
    assert f"Follow-up about {topic}".startswith(cut) and f"Follow-up about {topic}"[len(cut)] == " "  # a word's end
    assert f"I wanted to follow up on {topic}." in fields["body"]  # the body keeps the whole topic


async def test_a_short_email_subject_is_not_clipped(runtime: Runtime) -> None:
    draft = await runtime.drafter.draft(task("email jane@acme.com a follow-up on invoice 42"))
    assert isinstance(draft, ProposalDraft)
    assert draft.summary == "Email jane@acme.com: Follow-up on invoice 42"
    assert draft.actions[0][1]["subject"] == "Follow-up on invoice 42"


async def test_a_memory_answer_gives_the_fact_once(runtime: Runtime) -> None:
    remembered = await runtime.drafter.draft(task("remember Acme pays on the 15th", "t1"))
    assert isinstance(remembered, Reply) and remembered.text == "Remembered m1: Acme pays on the 15th"
    answer = await runtime.drafter.draft(task("when does Acme pay?", "t2"))
    assert isinstance(answer, Reply) and answer.ok
    assert answer.text.count("Acme pays on the 15th") == 1
    assert "📎" not in answer.text
    assert answer.text == "From memory:\n  • Acme pays on the 15th  (m1)"


async def test_an_email_still_cites_the_memory_it_used(runtime: Runtime) -> None:
    """Citations stay where they add something: a staged action's card names the facts its draft drew on."""
    await runtime.drafter.draft(task("remember ACME pays invoices net 30", "t1"))
    draft = await runtime.drafter.draft(task("email jane@acme.com about invoice 42", "t2"))
    assert isinstance(draft, ProposalDraft)
    assert "📎 from: “ACME pays invoices net 30” (m1, saved" in draft.summary


async def test_a_long_reminder_is_staged_with_a_clipped_headline_and_the_whole_request(runtime: Runtime) -> None:
    what = " ".join(["call Anna about the offer"] * 20)
    draft = await runtime.drafter.draft(task(f"remind me tomorrow at 9 to {what}"))
    assert isinstance(draft, ProposalDraft), draft
    assert len(draft.summary) <= 300 and draft.summary.endswith("…")
    cut = draft.summary.removesuffix("…").split(": ", 1)[1]
    assert what.startswith(cut) and what[len(cut)] == " "  # cut where a word ends
    assert draft.actions[0][1]["request"] == what


def test_clip_cuts_on_a_word_boundary_and_says_so() -> None:
    assert clip("a short line", 80) == "a short line"
    assert clip("one two three four", 12) == "one two…"
    assert clip("one two, three", 10) == "one two…"
    assert clip("x" * 20, 10) == "x" * 9 + "…"  # one word too long for the room: cut inside it
    assert all(len(clip("word " * 100, n)) <= n for n in (10, 80, 300))


async def test_a_model_answer_is_cited_only_for_the_facts_it_does_not_quote(llm: Llm) -> None:
    await llm.draft("remember Acme pays on the 15th", "t1")
    classify = json.dumps({"playbook": "answer"})
    quoted = json.dumps({"fields": {"answer": "Acme pays on the 15th [m1]."}})
    llm.script({"content": classify}, {"content": quoted})
    answer = await llm.draft("when does Acme pay?", "t2")
    assert isinstance(answer, Reply) and answer.text == "Acme pays on the 15th [m1]."
    paraphrased = json.dumps({"fields": {"answer": "Mid-month, on the 15th [m1]."}})
    llm.script({"content": classify}, {"content": paraphrased})
    answer = await llm.draft("which day of the month does Acme pay?", "t3")  # another prompt: not the cached one
    assert isinstance(answer, Reply) and answer.text.startswith("Mid-month, on the 15th [m1].\n📎 from: “Acme pays")


def test_a_revised_subject_too_long_for_a_headline_still_makes_a_short_one() -> None:
    to = "jane." + "x" * 200 + "@acme.com"
    previous = {"summary": f"Email {to}: Invoice 42", "fields": {"to": to, "subject": "Hi"}}
    revised = revise(previous, "subject " + "a very long subject " * 20)
    assert len(revised["summary"]) <= 300 and revised["summary"].endswith("…")
