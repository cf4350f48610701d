"""The scheduler on the real stores: two schedulers on one Redis post one digest; `deputy digest` and
`/digest` post on demand."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

from redis.asyncio import Redis

from config.wiring import Runtime, build_runtime
from memory import keys
from memory.streams import range_after
from orchestrator.fakes.world import FakeClock
from tests.conftest import deputy, settings_from
from tests.e2e.helpers import converse


async def digests(redis: Redis) -> list[str]:
    entries = await range_after(redis, keys.console("local"), "0", count=1000)
    return [fields["text"] for _, fields in entries if fields["kind"] == "digest"]


async def test_two_schedulers_on_one_redis_post_one_digest(env: dict[str, str]) -> None:
    clock = FakeClock(datetime(2026, 11, 3, 7, 0, tzinfo=UTC))
    runtimes = [build_runtime(settings_from(env), env["REDIS_URL"]) for _ in range(2)]
    try:
        schedulers = [rt.scheduler for rt in runtimes]
        for rt in runtimes:
            rt.coordinator.core.clock = clock
        await asyncio.gather(*(s.tick() for s in schedulers))
        clock.current = datetime(2026, 11, 3, 8, 0, 30, tzinfo=UTC)
        await asyncio.gather(*(s.tick() for s in schedulers), *(s.tick() for s in schedulers))
        posted = await digests(runtimes[0].redis)
        assert len(posted) == 1 and posted[0].startswith("📋 Digest for Tue 03 Nov")
        clock.current = datetime(2026, 11, 3, 11, 0, tzinfo=UTC)
        await asyncio.gather(*(s.tick() for s in schedulers))
        assert len(await digests(runtimes[0].redis)) == 1
    finally:
        for rt in runtimes:
            await rt.close()


def test_deputy_digest_posts_once_unless_now(env: dict[str, str], tmp_path: Path) -> None:
    first = deputy("digest", env=env, cwd=tmp_path)
    assert first.returncode == 0 and first.stdout.startswith("Posted the digest for"), first.stderr
    again = deputy("digest", env=env, cwd=tmp_path)
    assert "was already posted; use --now" in again.stdout
    forced = deputy("digest", "--now", env=env, cwd=tmp_path)
    assert forced.stdout.startswith("Posted the digest for")
    bad = deputy("digest", "--date", "03/11/2026", env=env, cwd=tmp_path)
    assert bad.returncode == 2 and "--date '03/11/2026' is not YYYY-MM-DD" in bad.stderr


async def test_digest_in_chat_answers_with_the_digest(runtime: Runtime) -> None:
    transcript = await converse(runtime, "/digest")
    assert "📋 Digest for" in transcript and "Quiet day" in transcript
