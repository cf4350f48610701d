"""On a phone a decision is short to type: a bare /approve takes the only proposal waiting, with several it
shows them to pick from (with their buttons), and a unique start of an id (4 characters) works wherever an id
does."""

from __future__ import annotations

from orchestrator.model import ProposalDraft
from orchestrator.outbound import Kind
from tests.orchestrator.conftest import Core
from tests.orchestrator.test_coordinator import EMAIL, staged


async def test_a_bare_approve_takes_the_only_proposal_waiting(core: Core) -> None:
    pid = await staged(core)
    await core.say("/approve")
    assert core.queue.applies == [pid]


async def test_with_several_waiting_a_bare_reject_shows_them_to_pick(core: Core) -> None:
    first, second = await staged(core), await staged(core)
    await core.say("/reject")
    _, _, listing = core.outbox.sent[-1]
    assert listing.kind is Kind.NOTICE and {p.id for p in listing.proposals} == {first, second}
    assert "2 proposals are waiting: which one?" in core.outbox.texts[-2]
    assert not [e for e in core.store.ledger if e.type == "ProposalRejected"]


async def test_with_nothing_waiting_a_bare_approve_says_so(core: Core) -> None:
    await core.say("/approve")
    assert core.outbox.texts[-1].startswith("Nothing is waiting for a decision.")


async def test_a_unique_start_of_an_id_is_enough_and_a_shared_one_asks(core: Core) -> None:
    issued = iter(["t4k9x2mq", "t4k9abcd"])

    async def long_ids(prefix: str) -> str:  # ids as the Redis store issues them
        return next(issued)

    core.store.new_id = long_ids  # type: ignore[method-assign]
    first, second = await staged(core), await staged(core)
    assert (first, second) == ("p4k9x2mq", "p4k9abcd")
    await core.say("/approve p4k9")
    assert "could be p4k9abcd, p4k9x2mq: type more of the id" in core.outbox.texts[-2] and core.queue.applies == []
    await core.say("/approve p4k9x")
    assert core.queue.applies == [first]


async def test_a_bare_approve_passes_over_cards_that_only_show_something(core: Core) -> None:
    """An FYI email's card waits (for Dismiss, Mark read, Archive) but holds nothing to approve."""
    offer = EMAIL.actions[0]  # the fake core's one connector stands in for Mark read's
    shown = ProposalDraft(playbook="inbox", summary="FYI from Jane", actions=[], offers={"mark_read": offer})
    await staged(core, shown)
    pid = await staged(core)
    await core.say("/approve")
    assert core.queue.applies == [pid]
