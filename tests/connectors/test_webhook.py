"""`webhook.post` against a real local HTTP receiver."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from bot.wiring import Runtime, build_runtime
from config.settings import settings_with
from connectors import signing
from connectors.webhook import WebhookConnector
from memory.streams import range_after
from orchestrator.errors import BadRequest, PermanentConnectorError, TransientConnectorError
from tests.conftest import Workers, eventually
from tests.connectors.receiver import Receiver
from tests.e2e.helpers import converse, proposal_id, send

SECRET = "shh-webhook-secret"
FIELDS = {"name": "zapier", "payload": {"text": "order 12 shipped"}}


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    target = Receiver()
    runner = await target.start()
    yield target
    await runner.cleanup()


def connector(receiver: Receiver, timeout_s: float = 5.0) -> WebhookConnector:
    return WebhookConnector({"zapier": receiver.url}, SECRET, timeout_s=timeout_s)


async def test_signed_post_verifies_with_the_shared_secret(receiver: Receiver) -> None:
    hook = connector(receiver)
    assert await hook.apply(hook.validate(FIELDS), "p1:0") == "Posted to webhook zapier (200)"
    [got] = receiver.requests
    assert got.key == "p1:0" and json.loads(got.body) == {"text": "order 12 shipped"}
    assert signing.verify(SECRET, got.timestamp, got.signature, got.body)
    assert not signing.verify("another-secret", got.timestamp, got.signature, got.body)


async def test_4xx_is_permanent_with_the_first_line_and_5xx_or_timeout_transient(receiver: Receiver) -> None:
    hook = connector(receiver, timeout_s=0.3)
    receiver.statuses = [400, 503]
    with pytest.raises(PermanentConnectorError, match=r"refused it with 400: nope: bad field$"):
        await hook.apply(FIELDS, "p1:0")
    with pytest.raises(TransientConnectorError, match="answered 503"):
        await hook.apply(FIELDS, "p1:0")
    receiver.delay_s = 1.0
    with pytest.raises(TransientConnectorError, match="did not answer"):
        await hook.apply(FIELDS, "p1:0")


def test_only_named_endpoints_are_targets(receiver: Receiver) -> None:
    with pytest.raises(BadRequest, match=r"no webhook named 'https://evil\.example'.*Configured: zapier"):
        connector(receiver).validate({"name": "https://evil.example", "payload": {}})


@pytest.fixture
def hook_env(env: dict[str, str], receiver: Receiver) -> dict[str, str]:
    return {**env, "DEPUTY_WEBHOOKS": f"zapier={receiver.url}", "DEPUTY_WEBHOOK_SECRET": SECRET}


@pytest.fixture
def hook_workers(hook_env: dict[str, str], tmp_path: Path) -> Iterator[Workers]:
    pool = Workers(hook_env, tmp_path)
    yield pool
    pool.stop_all()


@pytest.fixture
async def hook_runtime(hook_env: dict[str, str]) -> AsyncIterator[Runtime]:
    runtime = build_runtime(settings_with({k: v for k, v in hook_env.items() if k.startswith(("DEPUTY_", "REDIS_"))}))
    yield runtime
    await runtime.close()


async def approve_post(runtime: Runtime, text: str) -> str:
    pid = proposal_id(await converse(runtime, f"post {text} to zapier"))
    await send(runtime, f"/approve {pid}", f"approve-{pid}")
    return pid


async def settled(runtime: Runtime, pid: str) -> str:
    proposal = await runtime.store.get_proposal(pid)
    task = await runtime.store.get_task(proposal.task_id) if proposal else None
    return task.status.value if task and task.status.value in ("done", "failed") else ""


async def applied_events(runtime: Runtime) -> int:
    return [e.type for _, e in await runtime.ledger.read()].count("ActionApplied")


async def test_500_then_200_is_applied_once_with_one_key(
    hook_runtime: Runtime, hook_workers: Workers, receiver: Receiver
) -> None:
    hook_workers.start()
    receiver.statuses = [500]
    pid = await approve_post(hook_runtime, "order 12 shipped")
    assert await eventually(lambda: settled(hook_runtime, pid), 30, "the retry") == "done"
    assert [r.key for r in receiver.requests] == [f"{pid}:0", f"{pid}:0"]
    assert await applied_events(hook_runtime) == 1


async def test_400_fails_once_and_is_not_retried(
    hook_runtime: Runtime, hook_workers: Workers, receiver: Receiver
) -> None:
    hook_workers.start()
    receiver.statuses = [400]
    pid = await approve_post(hook_runtime, "order 13 shipped")
    assert await eventually(lambda: settled(hook_runtime, pid), 20, "the failure") == "failed"
    assert len(receiver.requests) == 1 and await applied_events(hook_runtime) == 0

    async def told() -> list[str]:  # shown right after the task's state is committed, in a write of its own
        said = [f["text"] for _, f in await range_after(hook_runtime.redis, "deputy:console:local", "0", count=100)]
        return [t for t in said if t.startswith("✗ Failed: webhook zapier refused it with 400: nope: bad field")]

    assert len(await eventually(told, 20, "the failure told")) == 1


async def test_worker_killed_mid_request_resends_the_same_key_and_records_one_outcome(
    hook_runtime: Runtime, hook_workers: Workers, receiver: Receiver
) -> None:
    first = hook_workers.start()
    receiver.on_request = lambda: hook_workers.kill9(first)
    pid = await approve_post(hook_runtime, "order 14 shipped")
    await eventually(lambda: first.poll() is not None, 20, "the worker to be killed")
    hook_workers.start()
    assert await eventually(lambda: settled(hook_runtime, pid), 30, "recovery") == "done"
    assert {r.key for r in receiver.requests} == {f"{pid}:0"} and len(receiver.requests) == 2
    assert await applied_events(hook_runtime) == 1
