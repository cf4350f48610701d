"""`webhook.post` against a real local HTTP receiver."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from config.settings import settings_with
from config.wiring import build_runtime
from connectors import signing
from connectors.webhook import WebhookConnector
from orchestrator.coordinator import Inbound
from orchestrator.errors import BadRequest, PermanentConnectorError, TransientConnectorError
from orchestrator.model import Actor, ChatRef
from tests.conftest import Workers, eventually
from tests.connectors.receiver import Receiver
from tests.e2e.helpers import converse, proposal_id

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


async def approve_post(env: dict[str, str], text: str) -> tuple[str, object]:
    runtime = build_runtime(settings_with({k: env[k] for k in env if k.startswith(("DEPUTY_", "REDIS_"))}))
    pid = proposal_id(await converse(runtime, f"post {text} to zapier"))
    await runtime.coordinator.receive(
        Inbound(
            actor=Actor("console", "op", "you"),
            chat=ChatRef("console", "local"),
            text=f"/approve {pid}",
            event_id=f"approve-{pid}",
        )
    )
    return pid, runtime


async def settled(runtime: object, pid: str) -> str:
    proposal = await runtime.store.get_proposal(pid)  # type: ignore[attr-defined]
    task = await runtime.store.get_task(proposal.task_id)  # type: ignore[attr-defined]
    return str(task.status.value) if task.status.value in ("done", "failed") else ""


async def test_500_then_200_is_applied_once_with_one_key(
    hook_env: dict[str, str], receiver: Receiver, tmp_path: Path
) -> None:
    workers = Workers(hook_env, tmp_path)
    workers.start()
    receiver.statuses = [500]
    try:
        pid, runtime = await approve_post(hook_env, "order 12 shipped")
        assert await eventually(lambda: settled(runtime, pid), 30, "the retry") == "done"
        assert [r.key for r in receiver.requests] == [f"{pid}:0", f"{pid}:0"]
        events = [e.type for _, e in await runtime.ledger.read()]  # type: ignore[attr-defined]
        assert events.count("ActionApplied") == 1
        await runtime.close()  # type: ignore[attr-defined]
    finally:
        workers.stop_all()


async def test_400_fails_once_and_is_not_retried(hook_env: dict[str, str], receiver: Receiver, tmp_path: Path) -> None:
    workers = Workers(hook_env, tmp_path)
    workers.start()
    receiver.statuses = [400]
    try:
        pid, runtime = await approve_post(hook_env, "order 13 shipped")
        assert await eventually(lambda: settled(runtime, pid), 20, "the failure") == "failed"
        assert len(receiver.requests) == 1
        texts = await converse(runtime, "/status")  # type: ignore[arg-type]
        assert "Pending proposals: 0" in texts
        await runtime.close()  # type: ignore[attr-defined]
    finally:
        workers.stop_all()


async def test_worker_killed_mid_request_resends_the_same_key_and_records_one_outcome(
    hook_env: dict[str, str], receiver: Receiver, tmp_path: Path
) -> None:
    workers = Workers(hook_env, tmp_path)
    first = workers.start()
    receiver.on_request = lambda: workers.kill9(first)
    try:
        pid, runtime = await approve_post(hook_env, "order 14 shipped")
        await eventually(lambda: first.poll() is not None, 20, "the worker to be killed")
        workers.start()
        assert await eventually(lambda: settled(runtime, pid), 30, "recovery") == "done"
        assert {r.key for r in receiver.requests} == {f"{pid}:0"} and len(receiver.requests) == 2
        events = [e.type for _, e in await runtime.ledger.read()]  # type: ignore[attr-defined]
        assert events.count("ActionApplied") == 1
        await runtime.close()  # type: ignore[attr-defined]
    finally:
        workers.stop_all()
