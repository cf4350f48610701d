"""Nothing acknowledged is lost, whatever Redis does: killed and restarted mid-traffic, out of memory, out of
disk. Real Slack requests (signed) against Deputy's web app, a real redis-restartable with the embedded
configuration (AOF, `appendfsync always`) that the test kills, fills and restarts; a delivery Slack was
answered 200 for always becomes a task, and one it was refused (5xx) becomes one when Slack sends it again."""

from __future__ import annotations

import asyncio
import os
from typing import Any

import aiohttp
import pytest
from redis import Redis

from bot.wiring import Runtime
from tests.conftest import eventually
from tests.e2e.helpers import web_deputy
from tests.e2e.procs import RestartableRedis
from tests.fakes import slack_api as slack
from tests.fakes.slack_api import FakeSlack

pytestmark = pytest.mark.soak


@pytest.fixture
def fault_env(env: dict[str, str], restartable: RestartableRedis, slack_api: FakeSlack) -> dict[str, str]:
    return {
        **env,
        "REDIS_URL": restartable.url,
        "SLACK_BOT_TOKEN": slack.BOT_TOKEN,
        "SLACK_SIGNING_SECRET": slack.SIGNING_SECRET,
        "DEPUTY_SLACK_API_URL": slack_api.base,
        "DEPUTY_OPERATORS": f"slack:{slack.OPERATOR}",
        "DEPUTY_DIGEST_CHANNEL": "slack:C0OPS",
    }


def events(n: int) -> list[dict[str, Any]]:
    """Operator DMs, each in its own chat (no chat's pacing slows another)."""
    return [slack.event(text=f"email jane@acme.com about invoice {i}", channel=f"D{i:06d}") for i in range(n)]


async def post(http: aiohttp.ClientSession, port: int, payload: dict[str, Any]) -> tuple[int, str]:
    body, kind = slack.as_json(payload)
    headers = {**slack.signed(body), "Content-Type": kind}
    try:
        async with http.post(f"http://127.0.0.1:{port}/slack/events", data=body, headers=headers) as response:
            return response.status, await response.text()
    except aiohttp.ClientError as err:
        return 0, str(err)


async def tasks_by_event(runtime: Runtime) -> dict[str, int]:
    """How many tasks each Slack event became, from the ledger (every task's first event)."""
    counts: dict[str, int] = {}
    for _, event in await runtime.ledger.read(count=100_000):
        if event.type == "TaskSubmitted":
            task = await runtime.store.get_task(event.task_id)
            assert task is not None
            counts[task.event_id] = counts.get(task.event_id, 0) + 1
    return counts


async def resend_refused(
    http: aiohttp.ClientSession, port: int, sent: list[dict[str, Any]], statuses: list[int]
) -> None:
    """Slack sends again what was not answered 2xx (it retries 5xx and timeouts)."""
    for payload, status in zip(sent, statuses, strict=True):
        if status != 200:
            for _ in range(40):
                if (await post(http, port, payload))[0] == 200:
                    break
                await asyncio.sleep(0.25)


async def settled(runtime: Runtime, sent: list[dict[str, Any]]) -> dict[str, int]:
    wanted = {p["event_id"] for p in sent}

    async def all_there() -> dict[str, int] | None:
        try:
            counts = await tasks_by_event(runtime)
        except Exception:
            return None
        return counts if wanted <= set(counts) else None

    result: dict[str, int] = await eventually(all_there, 60, "a task for every event")
    return result


async def test_redis_killed_and_restarted_mid_traffic_loses_nothing_acknowledged(
    fault_env: dict[str, str], restartable: RestartableRedis
) -> None:
    sent = events(90)
    async with web_deputy(fault_env) as (runtime, port), aiohttp.ClientSession() as http:
        statuses: list[int] = []
        for i, payload in enumerate(sent):
            if i == 30:
                restartable.kill()
            if i == 45:
                restartable.start()
            statuses.append((await post(http, port, payload))[0])
            await asyncio.sleep(0.01)
        acknowledged = {p["event_id"] for p, s in zip(sent, statuses, strict=True) if s == 200}
        assert set(statuses) <= {200, 503} and 503 in statuses and len(acknowledged) >= 60
        counts = await settled(runtime, [p for p in sent if p["event_id"] in acknowledged])
        await resend_refused(http, port, sent, statuses)
        counts = await settled(runtime, sent)
        assert all(counts[p["event_id"]] == 1 for p in sent)  # every event one task, none twice


async def test_out_of_memory_refuses_with_the_reason_says_so_and_loses_nothing(
    fault_env: dict[str, str], restartable: RestartableRedis, slack_api: FakeSlack
) -> None:
    sent = events(20)
    async with web_deputy(fault_env) as (runtime, port), aiohttp.ClientSession() as http:
        first = [(await post(http, port, p))[0] for p in sent[:10]]
        with Redis.from_url(restartable.url) as client:
            client.config_set("maxmemory", "1")
            refused = [await post(http, port, p) for p in sent[10:]]
            async with http.get(f"http://127.0.0.1:{port}/readyz") as response:
                ready = (response.status, await response.json())
            await runtime.scheduler.tick()
            client.config_set("maxmemory", "0")
        assert first == [200] * 10
        assert all(status == 503 and "out of memory" in text for status, text in refused)
        assert ready[0] == 503 and "out of memory" in ready[1]["reason"] and "maxmemory" in ready[1]["reason"]
        alerts = [c for c in slack_api.sent("chat.postMessage") if "Redis can't take writes" in c.text]
        assert len(alerts) == 1 and alerts[0].params["channel"] == "C0OPS"
        await resend_refused(http, port, sent, [*first, *(s for s, _ in refused)])
        counts = await settled(runtime, sent)
        assert all(counts[p["event_id"]] == 1 for p in sent)


async def test_a_full_disk_stops_redis_and_nothing_acknowledged_is_lost(
    fault_env: dict[str, str], restartable: RestartableRedis
) -> None:
    restartable.stop()
    restartable.start(file_limit=64_000)
    sent = events(60)
    async with web_deputy(fault_env) as (runtime, port), aiohttp.ClientSession() as http:
        statuses = [(await post(http, port, p))[0] for p in sent]
        assert 200 in statuses and set(statuses[statuses.index(200) :]) - {200} <= {503}
        assert (
            restartable.process is not None and restartable.process.poll() is not None
        )  # it could not write: it stopped
        log = (restartable.directory / "redis.log").read_text()
        assert "AOF" in log
        os.remove(restartable.directory / "redis.log")
        restartable.start()  # space was freed
        await resend_refused(http, port, sent, statuses)
        counts = await settled(runtime, sent)
        assert all(counts[p["event_id"]] == 1 for p in sent)
