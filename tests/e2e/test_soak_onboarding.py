"""Soak, onboarding: proposals of four actions (welcome email, CRM post, client note, client record) approved while
workers are killed with -9 and replaced throughout. However the kills land, each approved proposal ends with exactly
one email, one CRM post (one idempotency key at the receiver, which dedupes on it), one note and one record — after
the operator's word where a kill came after an email's hand-over — and the ledger replays to the stored state.
Behind `soak`."""

from __future__ import annotations

import asyncio
from collections import Counter
from pathlib import Path

import pytest

from bot.wiring import Runtime
from connectors.notes import NOTES
from tests.conftest import Smtp, Workers, deputy, eventually
from tests.connectors.receiver import Receiver
from tests.e2e.helpers import give_the_word, send
from tests.e2e.test_several_actions import crm, crm_env, crm_workers, receiver
from tests.e2e.test_soak import SLOW_DRAFT_MS, approve_as_they_come, chaos

__all__ = ["crm", "crm_env", "crm_workers", "receiver"]  # the fixtures this module shares
CLIENTS = 10


async def settled(runtime: Runtime, states: tuple[str, ...]) -> bool:
    return sum([len(await runtime.store.ids("task", s)) for s in states]) == CLIENTS


@pytest.mark.soak
async def test_each_onboarding_action_applies_once_while_workers_are_killed(
    crm: Runtime, crm_workers: Workers, smtp: Smtp, receiver: Receiver, crm_env: dict[str, str], tmp_path: Path
) -> None:
    for _ in range(2):
        crm_workers.start(DEPUTY_OFFLINE_LATENCY_MS=SLOW_DRAFT_MS)
    receiver.delay_s = 0.2  # the CRM answers slowly, so kills land mid-post too
    stop, kills = asyncio.Event(), {"worker": 0, "job process": 0}
    background = [
        asyncio.create_task(chaos(crm, crm_workers, stop, kills)),
        asyncio.create_task(approve_as_they_come(crm, stop)),
    ]
    for i in range(CLIENTS):
        await send(crm, f"onboard Client{i} Person client{i}@example.com", f"onboard-{i}")
    try:
        await eventually(lambda: settled(crm, ("done", "failed", "awaiting_operator")), 240, "every onboarding")
    finally:
        stop.set()
        await asyncio.gather(*background)
    asked = await give_the_word(crm, Counter(m["To"] for m in smtp.messages))
    await eventually(lambda: settled(crm, ("done",)), 60, "every onboarding done after the operator's word")

    sent = Counter(m["To"] for m in smtp.messages)
    assert len(sent) == CLIENTS and max(sent.values()) == 1, "a welcome email went twice, or not at all"
    proposals = await crm.store.ids("proposal", "approved")
    posted = Counter(r.key for r in receiver.requests)
    assert set(posted) == {f"{pid}:1" for pid in proposals}, "a CRM post is missing, or under another key"
    assert all([await crm.redis.hexists(NOTES, f"{pid}:2") for pid in proposals])
    assert await crm.redis.hlen(NOTES) == CLIENTS
    records = await crm.coordinator.core.book.ids("client")  # the 4th action: each client's record, once (issue 26)
    assert len(records) == CLIENTS, "a client's record was created twice, or not at all"
    print(f"soak onboarding: {CLIENTS} clients, kills {kills}, {sum(posted.values())} CRM requests, {asked} asked")
    assert sum(kills.values()) >= 3, "the chaos loop hardly killed a working worker: the soak proved little"
    assert deputy("replay", env=crm_env, cwd=tmp_path).returncode == 0
