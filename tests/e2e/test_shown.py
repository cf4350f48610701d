"""Committed means shown, against real worker processes: a job process that dies right after the commit that
staged a proposal (or settled an apply as "may not have been sent") and before the post still gets its card
to the chat — once. The drill hook DEPUTY_FAULT_EXIT_AFTER makes the job process exit right after the named
commit, as a kill -9 at that instant would; the parent starts another and the job's re-run shows it."""

from __future__ import annotations

from collections import Counter

import pytest

from bot.wiring import Runtime
from memory.streams import range_after
from tests.conftest import Smtp, Workers, eventually
from tests.e2e.helpers import send

TASKS = 20


async def said(runtime: Runtime) -> list[dict[str, str]]:
    return [fields for _, fields in await range_after(runtime.redis, "deputy:console:local", "0", count=10_000)]


async def cards_per_task(runtime: Runtime) -> Counter[str]:
    return Counter(m["task"] for m in await said(runtime) if m["kind"] == "card")


async def staged(runtime: Runtime) -> int:
    return sum([len(await runtime.store.ids("task", s)) for s in ("proposed",)])


@pytest.mark.soak
async def test_a_worker_killed_after_each_proposal_staged_still_shows_every_card_once(
    runtime: Runtime, workers: Workers
) -> None:
    workers.start(DEPUTY_FAULT_EXIT_AFTER="ProposalStaged")
    for i in range(TASKS):
        await send(runtime, f"email client{i}@example.com about invoice {i}", f"shown-{i}")
    await eventually(lambda: _all_carded(runtime), 120, f"{TASKS} cards")
    cards = await cards_per_task(runtime)
    assert len(cards) == TASKS and set(cards.values()) == {1}, cards
    assert await staged(runtime) == TASKS and await runtime.store.unshown() == []


async def _all_carded(runtime: Runtime) -> bool:
    return len(await cards_per_task(runtime)) == TASKS


@pytest.mark.soak
async def test_an_apply_cut_off_after_it_settled_still_offers_send_again_and_mark_as_sent(
    runtime: Runtime, workers: Workers, smtp: Smtp
) -> None:
    """Killed after the hand-over (the server never got the end of data), and again right after the commit
    that says so: the card still reaches the chat with both of the operator's choices."""
    first = workers.start()
    await send(runtime, "email jane@acme.com about invoice 42", "shown-apply")
    [pid] = await eventually(lambda: runtime.store.ids("proposal", "pending"), 30, "the card")
    first.terminate()
    first.wait(15)
    workers.start(DEPUTY_FAULT_EXIT_AFTER="handed_over,TaskAwaitingOperator")
    await send(runtime, f"/approve {pid}", "shown-approve")
    await eventually(lambda: _offers_choices(runtime, pid), 60, "the may-not-have-been-sent card")
    assert smtp.messages == [] and await runtime.store.unshown() == []
    unsure = [m for m in await said(runtime) if "May not have been sent" in m["text"]]
    assert len(unsure) == 1


async def _offers_choices(runtime: Runtime, pid: str) -> bool:
    return any(
        "May not have been sent" in m["text"] and f"/resend {pid}" in m["text"] and f"/sent {pid}" in m["text"]
        for m in await said(runtime)
    )
