"""Health, readiness and metrics over real HTTP (aiohttp test server) against real Redis."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from redis.asyncio import Redis

from bot.web import make_app
from config.wiring import Runtime
from memory import keys
from tests.conftest import Workers
from tests.e2e.helpers import converse

Client = TestClient[web.Request, web.Application]


@pytest.fixture
async def client(runtime: Runtime) -> AsyncIterator[Client]:
    async with TestClient(TestServer(make_app(runtime.redis))) as test_client:
        yield test_client


async def test_healthz(client: Client) -> None:
    response = await client.get("/healthz")
    assert response.status == 200 and (await response.json())["status"] == "ok"


async def test_readyz_says_why_it_is_not_ready_then_ready(client: Client, runtime: Runtime) -> None:
    response = await client.get("/readyz")
    assert response.status == 503 and "no worker is alive" in (await response.json())["reason"]
    await runtime.redis.set(keys.worker_alive("w1"), "w1", ex=5)
    response = await client.get("/readyz")
    assert response.status == 200 and (await response.json())["workers"] == 1


async def test_readyz_without_redis_is_503_with_the_reason() -> None:
    dead = Redis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=0.5)
    async with TestClient(TestServer(make_app(dead))) as test_client:
        response = await test_client.get("/readyz")
        assert response.status == 503 and "Redis is unreachable" in (await response.json())["reason"]
    await dead.aclose()


async def test_metrics_count_tasks_decisions_and_job_latency(
    client: Client, runtime: Runtime, workers: Workers
) -> None:
    workers.start()
    assert "Done: Saved note" in await converse(runtime, "prepare the offsite")  # auto-approved by notes-always
    text = await (await client.get("/metrics")).text()
    assert 'deputy_tasks{state="done"} 1.0' in text
    assert 'deputy_proposals{state="approved"} 1.0' in text
    assert 'deputy_decisions_total{verdict="approve"} 1.0' in text
    assert 'deputy_ledger_events_total{type="ActionApplied"} 1.0' in text
    assert 'deputy_job_seconds_count{job="run"} 1.0' in text
    assert 'deputy_job_seconds_count{job="apply"} 1.0' in text
    assert "deputy_workers_alive 1.0" in text
