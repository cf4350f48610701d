"""Canonical memory: history on update, forget, duplicates merged, weak matches dropped, restarts."""

from __future__ import annotations

import json
from pathlib import Path

from redis.asyncio import Redis

from memory.connections import async_redis
from memory.embedder import OfflineEmbedder
from memory.recall import LocalRecall
from memory.records import RedisMemory, Source

YOU = Source(by="you", where="task t1 in console:local", at="2026-11-03T09:14:00+00:00")


def memory(redis: Redis, data: Path) -> RedisMemory:
    return RedisMemory(redis, LocalRecall(OfflineEmbedder(), data / "recall.npy"))


async def test_an_update_supersedes_and_keeps_history(redis_url: str, tmp_path: Path) -> None:
    mem = memory(async_redis(redis_url), tmp_path)
    first = await mem.remember("ACME pays invoices net 30", YOU)
    second = await mem.remember("ACME pays invoices net 45", Source(by="@sam"))
    assert first.outcome == "new" and second.outcome == "updated" and second.record.id == first.record.id
    record = await mem.get(first.record.id)
    assert record is not None and record.version == 2 and record.text == "ACME pays invoices net 45"
    assert record.history == [{"version": 1, "text": "ACME pays invoices net 30", "source": YOU.__dict__}]
    [hit] = await mem.recall("when does ACME pay invoices")
    assert hit.record.text.endswith("net 45")
    await mem.redis.aclose()


async def test_the_same_fact_twice_is_stored_once(redis_url: str, tmp_path: Path) -> None:
    mem = memory(async_redis(redis_url), tmp_path)
    await mem.remember("Globex prefers short emails", YOU)
    again = await mem.remember("globex prefers short emails.", YOU)
    assert again.outcome == "same"
    assert [r.record.id for r in await mem.recall("Globex emails", floor=0.0)] == ["m1"]
    await mem.redis.aclose()


async def test_different_facts_about_different_subjects_are_not_merged(redis_url: str, tmp_path: Path) -> None:
    mem = memory(async_redis(redis_url), tmp_path)
    a = await mem.remember("Jane's email is jane@acme.com", YOU)
    b = await mem.remember("Hank's email is hank@globex.com", YOU)
    assert (a.outcome, b.outcome) == ("new", "new") and a.record.id != b.record.id
    await mem.redis.aclose()


async def test_forget_removes_from_recall_and_says_what(redis_url: str, tmp_path: Path) -> None:
    mem = memory(async_redis(redis_url), tmp_path)
    done = await mem.remember("Initech is in a contract renewal until December", YOU)
    removed = await mem.forget(done.record.id)
    assert removed is not None and removed.text.startswith("Initech is in a contract renewal")
    assert await mem.recall("Initech renewal", floor=0.0) == []
    assert await mem.forget(done.record.id) is None  # twice: nothing left to forget
    await mem.redis.aclose()


async def test_weak_matches_are_not_used(redis_url: str, tmp_path: Path) -> None:
    mem = memory(async_redis(redis_url), tmp_path)
    await mem.remember("Globex prefers short emails", YOU)
    assert await mem.recall("what is the capital of Peru") == []
    await mem.redis.aclose()


async def test_memory_survives_a_restart_and_other_processes_see_changes(redis_url: str, tmp_path: Path) -> None:
    redis = async_redis(redis_url)
    writer = memory(redis, tmp_path)
    for n in range(250):  # past the snapshot threshold, so a snapshot is written to the data dir
        await writer.remember(f"Client number {n} is called Company{n} Ltd", YOU)
    await writer.recall("Company7")
    assert (tmp_path / "recall.npy").exists()
    await writer.remember("Hooli uses Salesforce as their CRM", YOU)
    restarted = memory(redis, tmp_path)  # a new process: snapshot, then the changes after it
    [hit] = await restarted.recall("Which CRM does Hooli use?", limit=1)
    assert hit.record.text == "Hooli uses Salesforce as their CRM"
    assert (await restarted.recall("Company7 Ltd", limit=1))[0].record.text == "Client number 7 is called Company7 Ltd"
    await writer.forget(hit.record.id)
    assert await restarted.recall("Which CRM does Hooli use?") == []
    await redis.aclose()


async def test_facts_kept_by_an_earlier_version_are_moved_once(redis_url: str, tmp_path: Path) -> None:
    redis = async_redis(redis_url)
    old = {"id": "f1", "text": "ACME pays net 30", "source": "console:op in task t1", "at": "2026-11-01T10:00:00+00:00"}
    await redis.hset("deputy:facts", "f1", json.dumps(old))
    mem = memory(redis, tmp_path)
    await mem.migrate()  # what a worker does when it starts
    [hit] = await mem.recall("when does ACME pay")
    assert hit.record.text == "ACME pays net 30" and hit.record.source.by == "console:op in task t1"
    again = memory(redis, tmp_path)
    await again.migrate()
    await again.recall("ACME")
    assert await redis.get("deputy:memory:seq") == "1"  # not moved twice
    await redis.aclose()
