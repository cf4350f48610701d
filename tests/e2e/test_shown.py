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
async def test_applies_cut_off_after_they_settled_still_offer_send_again_and_mark_as_sent(
    runtime: Runtime, workers: Workers, smtp: Smtp
) -> None:
    """20 approved emails, each killed after the hand-over (the server never got the end of data), and again
    right after the commit that says so: every card still reaches the chat, once, with both of the operator's
    choices."""
    first = workers.start()
    for i in range(TASKS):
        await send(runtime, f"email client{i}@example.com about invoice {i}", f"shown-apply-{i}")
    pids = await eventually(lambda: _pending(runtime), 120, f"{TASKS} cards")
    first.terminate()
    first.wait(15)
    workers.start(DEPUTY_FAULT_EXIT_AFTER="handed_over,TaskAwaitingOperator")
    for pid in pids:
        await send(runtime, f"/approve {pid}", f"shown-approve-{pid}")
    await eventually(lambda: _all_offer_choices(runtime, pids), 240, "every may-not-have-been-sent card")
    assert smtp.messages == [] and await runtime.store.unshown() == []
    unsure = Counter(m["task"] for m in await said(runtime) if "May not have been sent" in m["text"])
    assert len(unsure) == TASKS and set(unsure.values()) == {1}, unsure


async def _pending(runtime: Runtime) -> list[str]:
    pids = await runtime.store.ids("proposal", "pending")
    return pids if len(pids) == TASKS else []


async def _all_offer_choices(runtime: Runtime, pids: list[str]) -> bool:
    texts = [m["text"] for m in await said(runtime) if "May not have been sent" in m["text"]]
    return all(any(f"/resend {pid}" in t and f"/sent {pid}" in t for t in texts) for pid in pids)
