"""A decision applies to the version the operator saw: a press on an outdated card changes nothing and shows
the current card; a typed decision in the digest's chat means what the digest showed; the same stored press
handled twice (a crash in between) decides once."""

from __future__ import annotations

from datetime import datetime

from orchestrator.buttons import APPROVE, REJECT, Click, Target
from orchestrator.commands import Inbound
from orchestrator.fakes.books import FakeSpend, InMemoryDigestBook
from orchestrator.fakes.world import FakeLiveness
from orchestrator.model import ChatRef, ProposalStatus
from orchestrator.outbound import Kind
from orchestrator.schedule import ScheduleConfig, Scheduler
from tests.orchestrator.conftest import BOSS, Core
from tests.orchestrator.test_commits import configure
from tests.orchestrator.test_coordinator import staged

SLACK = ChatRef("slack", "D1")
DIGEST = ChatRef("slack", "C-ops")


class Answers(list[tuple[str, bool]]):
    async def __call__(self, text: str, refused: bool) -> None:
        self.append((text, refused))


async def test_a_press_on_the_card_before_an_edit_changes_nothing_and_shows_the_current_one(core: Core) -> None:
    configure(core)
    pid = await staged(core)
    await core.say(f"/edit {pid} to bob@acme.com")
    answers = Answers()
    await core.coordinator.click(Click(BOSS, SLACK, APPROVE, Target(pid, version=1), "cb1"), answers)
    assert answers == [
        (
            f"Proposal {pid} changed since this card (v1): it is now version 2 "
            "— here is the current one. Nothing changed.",
            True,
        )
    ]
    proposal = await core.store.get_proposal(pid)
    assert proposal and proposal.status is ProposalStatus.PENDING and core.queue.applies == []
    chat, _, shown = core.outbox.sent[-1]
    assert chat == SLACK and shown.kind is Kind.CARD and shown.proposal and shown.proposal.version == 2
    await core.coordinator.click(Click(BOSS, SLACK, APPROVE, Target(pid, version=2), "cb2"), answers)
    assert answers[-1] == (f"Approved {pid}.", False) and core.queue.applies == [pid]


async def test_typed_approve_in_the_digest_chat_means_the_version_the_digest_showed(core: Core) -> None:
    configure(core)
    book = InMemoryDigestBook()
    core.coordinator.core.digests = book
    pid = await staged(core)
    schedule = Scheduler(
        core.coordinator, core.store, book, FakeSpend(), FakeLiveness(), ScheduleConfig(digest_chat=DIGEST)
    )
    await schedule.post(DIGEST, datetime(2026, 11, 3).date())
    await core.say(f"/edit {pid} subject Invoice 42: the corrected one")
    await core.coordinator.receive(Inbound(actor=BOSS, chat=DIGEST, text=f"/approve {pid}", event_id="e-digest"))
    assert "it is now version 2" in core.outbox.texts[-2] and core.queue.applies == []
    await core.say(f"/approve {pid}")  # in the proposal's own chat its card is always the current one
    assert core.queue.applies == [pid]


async def test_the_same_stored_press_handled_twice_decides_once(core: Core) -> None:
    pid = await staged(core)
    answers = Answers()
    press = Click(BOSS, SLACK, APPROVE, Target(pid), "cb1", delivery="1700000000000-0")
    await core.coordinator.click(press, answers)
    await core.coordinator.click(press, answers)  # the web process crashed before removing its stored copy
    assert answers == [(f"Approved {pid}.", False), (f"Approved {pid}.", False)]
    decisions = [e for e in core.store.ledger if e.type == "ProposalApproved"]
    assert len(decisions) == 1 and core.queue.applies == [pid]


async def test_a_platform_resending_a_press_is_still_deduped(core: Core) -> None:
    pid = await staged(core)
    answers = Answers()
    await core.coordinator.click(Click(BOSS, SLACK, REJECT, Target(pid), "cb1", delivery="1-0"), answers)
    await core.coordinator.click(Click(BOSS, SLACK, REJECT, Target(pid), "cb1", delivery="2-0"), answers)
    assert answers == [(f"Rejected {pid}.", False)]


def test_a_body_edit_keeps_the_headline_and_a_subject_edit_changes_it() -> None:
    from orchestrator.actions import StagedAction
    from orchestrator.proposals import retitled

    def email(subject: str, body: str) -> StagedAction:
        fields = {"to": "bob@example.org", "subject": subject, "body": body}
        return StagedAction("email.send", fields, f"Send email “{subject}” to bob@example.org", "bob@example.org")

    headline = "Email bob@example.org: Contract renewal: next steps"
    old = email("Contract renewal: next steps", "Hi Bob, the long one.")
    assert retitled(headline, old, email(old.fields["subject"], "Hi Bob, short one. Sam"), alone=True) == headline
    assert retitled(headline, old, email("Renewal", old.fields["body"]), alone=True) == "Email bob@example.org: Renewal"
