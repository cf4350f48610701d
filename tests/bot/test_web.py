"""Health, readiness and metrics over real HTTP (aiohttp test server) against real Redis."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from redis.asyncio import Redis

from bot.web import make_app
from bot.wiring import Runtime
from memory import keys
from tests.conftest import Smtp, Workers
from tests.e2e.helpers import converse, proposal_id, send

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


async def test_metrics_expose_the_named_series_after_a_flow(
    client: Client, runtime: Runtime, workers: Workers, smtp: Smtp
) -> None:
    workers.start()
    assert "Done: Saved note" in await converse(runtime, "prepare the offsite")  # auto-approved by notes-always
    pid = proposal_id(await converse(runtime, "email jane@acme.com about invoice 42"))
    assert "Done: Sent to jane@acme.com" in await converse(runtime, f"/approve {pid}")
    await client.get("/healthz")
    await client.post("/hooks/unknown", data=b"{}")
    text = await (await client.get("/metrics")).text()
    for line in (
        'deputy_tasks{state="done"} 2.0',
        'deputy_proposals{state="approved"} 2.0',
        'deputy_decisions_total{verdict="approve"} 2.0',
        'deputy_actions_total{kind="email.send",outcome="applied"} 1.0',
        'deputy_actions_total{kind="note.save",outcome="applied"} 1.0',
        'deputy_ledger_events_total{type="ActionApplied"} 2.0',
        'deputy_job_seconds_count{job="run"} 2.0',
        'deputy_job_seconds_count{job="apply"} 2.0',
        "deputy_workers_alive 1.0",
        "deputy_queue_depth 0.0",
        "deputy_queue_oldest_age_seconds 0.0",
        "deputy_budget_remaining_dollars 5.0",
        "deputy_digest_last_sent_timestamp_seconds 0.0",
        'deputy_requests_total{channel="ops",status="200"}',
        'deputy_requests_total{channel="hooks",status="404"}',
        'deputy_ack_seconds_bucket{channel="ops",le="0.005"}',
        'deputy_model_calls_total{model="offline"} 3.0',  # classify+draft the plan, draft the email
        'deputy_model_tokens_total{io="in",model="offline"} ',
        'deputy_model_dollars_total{model="offline"} 0.0',
    ):
        assert line in text, line


async def test_queue_depth_and_age_show_waiting_jobs(client: Client, runtime: Runtime) -> None:
    await converse_nowait(runtime, "plan the launch")  # no worker: the job waits
    await asyncio.sleep(1.1)
    text = await (await client.get("/metrics")).text()
    assert "deputy_queue_depth 1.0" in text
    age = float(re.search(r"^deputy_queue_oldest_age_seconds (\S+)$", text, re.M)[1])  # type: ignore[index]
    assert 1.0 <= age < 30


async def converse_nowait(runtime: Runtime, text: str) -> None:
    await send(runtime, text, "queued-1")
