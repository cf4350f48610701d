"""The Redis adapters against a real redis-server: atomic commit, revision conflicts, dedupe, ids, records."""

from __future__ import annotations

import asyncio
import itertools

import pytest

from bot.wiring import Runtime
from memory import keys
from memory.actions import RedisActionRecords
from memory.liveness import CLEAR_EVERY_S, RedisLiveness
from orchestrator.errors import Conflict
from orchestrator.fakes.world import FakeClock
from orchestrator.model import Task, TaskStatus
from tests.orchestrator.conftest import CONSOLE, ME

NOW = FakeClock().now()


def task(task_id: str = "t1") -> Task:
    return Task(id=task_id, text="hello", actor=ME, chat=CONSOLE, event_id="e1", created_at=NOW)


async def test_commit_writes_record_index_and_ledger_together(runtime: Runtime) -> None:
    t = task()
    await runtime.store.commit([t], [t.submitted(NOW)])
    loaded = await runtime.store.get_task("t1")
    assert loaded == Task(**{**t.__dict__, "rev": 1})
    assert await runtime.store.ids("task", "received") == ["t1"]
    [(_, event)] = await runtime.ledger.read()
    assert event.type == "TaskSubmitted" and event.task_id == "t1" and event.actor == ME.id


async def test_status_index_moves_with_the_record(runtime: Runtime) -> None:
    t = task()
    await runtime.store.commit([t], [])
    loaded = await runtime.store.get_task("t1")
    assert loaded is not None
    event = loaded.start(NOW)
    await runtime.store.commit([loaded], [event])
    assert await runtime.store.ids("task", "received") == []
    assert await runtime.store.ids("task", "running") == ["t1"]


async def test_stale_revision_conflicts_and_writes_nothing(runtime: Runtime) -> None:
    t = task()
    await runtime.store.commit([t], [])
    first, second = await runtime.store.get_task("t1"), await runtime.store.get_task("t1")
    assert first and second
    await runtime.store.commit([first], [first.start(NOW)])
    with pytest.raises(Conflict):
        await runtime.store.commit([second], [second.fail("x", NOW)])
    stored = await runtime.store.get_task("t1")
    assert stored and stored.status is TaskStatus.RUNNING
    assert [e.type for _, e in await runtime.ledger.read()] == ["TaskStarted"]


async def test_only_one_of_many_concurrent_writers_wins(runtime: Runtime) -> None:
    await runtime.store.commit([task()], [])
    copies = [await runtime.store.get_task("t1") for _ in range(20)]

    async def write(t: Task | None) -> bool:
        assert t is not None
        try:
            await runtime.store.commit([t], [t.start(NOW)])
        except Conflict:
            return False
        return True

    results = await asyncio.gather(*(write(t) for t in copies))
    assert results.count(True) == 1
    assert len(await runtime.ledger.read()) == 1


async def test_claim_is_first_come_only(runtime: Runtime) -> None:
    results = await asyncio.gather(*(runtime.store.claim("event:slack:Ev1", 60) for _ in range(10)))
    assert results.count(True) == 1
    assert await runtime.redis.ttl("deputy:claim:event:slack:Ev1") > 0


async def test_ids_are_short_typeable_and_never_reissued(runtime: Runtime) -> None:
    ids = {await runtime.store.new_id("p") for _ in range(200)}
    assert len(ids) == 200
    assert all(len(i) == 8 and i.isalnum() and i.islower() for i in ids)


async def test_action_records_keep_intent_then_outcome(runtime: Runtime) -> None:
    records = RedisActionRecords(runtime.redis)
    assert await records.begin("p1:0") is None
    again = await records.begin("p1:0")
    assert again is not None and again.outcome is None
    await records.finish("p1:0", "Sent to a@b.co")
    done = await records.begin("p1:0")
    assert done is not None and done.outcome == "Sent to a@b.co"
    await records.forget("p1:0")
    assert await records.begin("p1:0") is None


async def test_tally_counts_within_its_window_and_the_window_expires(runtime: Runtime) -> None:
    counts = [await runtime.store.tally("refusals:202612011000", 60) for _ in range(3)]
    assert counts == [1, 2, 3]
    assert 0 < await runtime.redis.ttl("deputy:claim:refusals:202612011000") <= 60


async def test_a_claim_owned_by_a_delivery_lets_that_delivery_through_again(runtime: Runtime) -> None:
    assert await runtime.store.claim("event:slack:Ev9", 60, owner="1700000000000-0")
    assert await runtime.store.claim("event:slack:Ev9", 60, owner="1700000000000-0")  # handled again after a crash
    assert not await runtime.store.claim("event:slack:Ev9", 60, owner="1700000000001-0")  # a resend: a duplicate
    assert not await runtime.store.claim("event:slack:Ev9", 60)


async def test_id_for_gives_a_delivery_one_id(runtime: Runtime) -> None:
    first, fresh = await runtime.store.id_for("slack:Ev9", "t", 60)
    again, fresh_again = await runtime.store.id_for("slack:Ev9", "t", 60)
    assert (again, fresh, fresh_again) == (first, True, False) and first.startswith("t") and len(first) == 8
    assert await runtime.redis.exists(f"deputy:id:{first}")  # never handed out again


async def test_append_once_writes_its_guard_and_events_once_however_many_race(runtime: Runtime, redis_url: str) -> None:
    """Two processes' connections (and several calls on each) handling the same item at once: one sets the
    guard and appends, every other call writes nothing."""
    from redis.asyncio import Redis

    from memory.store import RedisStore

    other = Redis.from_url(redis_url)
    try:
        stores = [runtime.store, RedisStore(other)]
        t = task()
        calls = [stores[n % 2].append_once("deputy:test:guard", f"v{n}", [t.submitted(NOW)]) for n in range(10)]
        assert sorted(await asyncio.gather(*calls)) == [False] * 9 + [True]
        assert [e.type for _, e in await runtime.ledger.read()] == ["TaskSubmitted"]
        assert str(await runtime.redis.get("deputy:test:guard")).startswith("v")
    finally:
        await other.aclose()


async def test_an_entry_stored_with_a_kept_record_writes_both_in_one_step_or_neither(runtime: Runtime) -> None:
    """What an email's take writes: the dedupe claim, the inbox entry, the record's guard and its event together;
    a duplicate (the claim taken) writes none of them; an entry whose record was kept before (its guard set) is
    stored without a second event."""
    from memory import keys
    from memory.inbox import Claim, Kept, RedisInbox

    inbox, t = RedisInbox(runtime.redis), task()

    def kept(value: str) -> Kept:
        return Kept("deputy:test:record", value, [t.submitted(NOW)])

    first = await inbox.put("email", {"body": "one"}, [Claim("deputy:test:claim")], kept("v1"))
    again = await inbox.put("email", {"body": "one"}, [Claim("deputy:test:claim")], kept("v2"))
    other = await inbox.put("email", {"body": "two"}, [Claim("deputy:test:other")], kept("v3"))
    assert first.entry_id and not again.entry_id and again.taken == "deputy:test:claim" and other.entry_id
    assert await runtime.redis.get("deputy:test:claim") == first.entry_id  # '' stands for the entry's id
    assert await runtime.redis.get("deputy:test:record") == "v1"
    assert [e.type for _, e in await runtime.ledger.read()] == ["TaskSubmitted"]
    assert await runtime.redis.hget("deputy:metrics:events", "TaskSubmitted") == "1"
    stored = [fields for _, fields in await runtime.redis.xrange(keys.INBOX) or []]
    assert [f and f["body"] for f in stored] == ["one", "two"] and stored[0] and stored[0]["kind"] == "email"


async def test_record_data_and_statuses_read_what_the_commit_stored(runtime: Runtime) -> None:
    """`deputy replay`'s view of the stored records: each one's `data` as committed (None for a key that has
    none), and from it only the id and statuses, equal to the record's own."""
    from memory import codec, keys
    from memory.store import record_data
    from orchestrator.model import ActionStatus, Proposal, StagedAction

    t = task()
    actions = [StagedAction("email", {"to": "jane@acme.com"}, "Email jane", "jane@acme.com") for _ in range(2)]
    proposal = Proposal("p1", t.id, CONSOLE, "email", "Send it", actions, NOW)
    proposal.actions[1].status = ActionStatus.APPLIED
    await runtime.store.commit([t, proposal], [t.submitted(NOW)])
    names = [keys.record("task", "t1"), keys.record("proposal", "p1"), keys.record("task", "gone")]
    task_data, proposal_data, gone = await record_data(runtime.redis, names)
    assert gone is None and task_data and proposal_data
    assert codec.statuses(task_data) == ("t1", "received", [])
    assert codec.statuses(proposal_data) == ("p1", "pending", ["staged", "applied"])
    many = await record_data(runtime.redis, names * 700)  # more than one script call's thousand keys
    assert many == [task_data, proposal_data, None] * 700


async def test_a_kept_message_ref_is_the_tasks_first_and_a_later_one_does_not_replace_it(runtime: Runtime) -> None:
    t = task()
    await runtime.store.commit([t], [t.submitted(NOW)])
    await runtime.store.keep_ref("t1", "C1:111")
    loaded = await runtime.store.get_task("t1")
    assert loaded is not None and loaded.message_ref == "C1:111" and loaded.rev == 1  # not a commit: no revision
    await runtime.store.keep_ref("t1", "C1:222")  # posted by a worker that took it first: the first stays
    again = await runtime.store.get_task("t1")
    assert again is not None and again.message_ref == "C1:111"


async def test_platform_failures_clear_on_the_next_delivery_that_goes_through(runtime: Runtime) -> None:
    live = RedisLiveness(runtime.redis)
    await live.record("telegram", False)
    await live.record("telegram", False)
    assert await live.failures("telegram") == 2
    await live.record("telegram", True)
    assert await live.failures("telegram") == 0
    await live.record("telegram", False)  # this process's own failure: the next success clears it at once
    await live.record("telegram", True)
    assert await live.failures("telegram") == 0


async def test_deliveries_that_go_through_clear_the_count_once_a_second_not_once_each(runtime: Runtime) -> None:
    live = RedisLiveness(runtime.redis)
    before = await _calls(runtime, "del")
    for _ in range(50):
        await live.record("slack", True)
    assert await _calls(runtime, "del") - before == 1
    await runtime.redis.incr(keys.health("fails:slack"))  # another process failed meanwhile
    live.cleared["slack"] -= CLEAR_EVERY_S  # a second later
    await live.record("slack", True)
    assert await live.failures("slack") == 0


async def _calls(runtime: Runtime, command: str) -> int:
    stats = await runtime.redis.info("commandstats")
    return int(stats.get(f"cmdstat_{command}", {}).get("calls", 0))


async def test_a_claim_with_an_id_grants_both_once_and_the_same_id_to_its_owner_again(
    runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = runtime.store
    await runtime.redis.set(keys.issued_id("tused001"), 1)  # drawn before: the claim draws another
    drawn = itertools.chain(["tused001", "tfresh01"], (f"tother{n:02}" for n in itertools.count()))
    monkeypatch.setattr("memory.store.new_candidate", lambda prefix: next(drawn))
    assert await store.claim_with_id("event:slack:Ev1", 60, "delivery-1", "slack:Ev1") == (True, "tfresh01")
    assert await store.claim_with_id("event:slack:Ev1", 60, "delivery-1", "slack:Ev1") == (True, "tfresh01")
    assert await store.claim_with_id("event:slack:Ev1", 60, "delivery-2", "slack:Ev1") == (False, "")
    assert await store.id_for("slack:Ev1", "t", 60) == ("tfresh01", False)  # the submit's own lookup agrees
    with pytest.raises(ValueError):
        await store.claim_with_id("event:slack:Ev2", 60, "", "slack:Ev2")
