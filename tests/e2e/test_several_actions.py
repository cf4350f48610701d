"""A proposal of three actions through a real worker, real SMTP, a real webhook receiver and Deputy's own notes,
driven through the console: the webhook refuses (400), so the email went once, the note was not run, and the
card says which; Run the rest, once the receiver is fixed, applies the webhook and the note once each and never
sends the email again."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from bot.wiring import Runtime, build_runtime
from connectors.notes import NOTES
from orchestrator import commands as cmd
from orchestrator.model import ProposalDraft
from tests.conftest import Smtp, Workers, deputy, settings_from
from tests.connectors.receiver import Receiver
from tests.e2e.helpers import converse, send

ONBOARD = ProposalDraft(
    playbook="onboard",
    summary="Onboard Jane",
    actions=[
        ("email.send", {"to": "jane@acme.com", "subject": "Welcome aboard", "body": "Hi Jane"}),
        ("webhook.post", {"name": "crm", "payload": {"text": "new client Jane"}}),
        ("note.save", {"title": "Client Jane", "body": "Onboarded"}),
    ],
)


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    target = Receiver()
    runner = await target.start()
    yield target
    await runner.cleanup()


@pytest.fixture
def crm_env(env: dict[str, str], receiver: Receiver) -> dict[str, str]:
    return {**env, "DEPUTY_WEBHOOKS": f"crm={receiver.url}"}


@pytest.fixture
async def crm(crm_env: dict[str, str]) -> AsyncIterator[Runtime]:
    runtime = build_runtime(settings_from(crm_env), crm_env["REDIS_URL"])
    yield runtime
    await runtime.close()


@pytest.fixture
def crm_workers(crm_env: dict[str, str], tmp_path: Path) -> Iterator[Workers]:
    pool = Workers(crm_env, tmp_path)
    yield pool
    pool.stop_all()


async def staged(runtime: Runtime) -> str:
    """The agent side of several actions is drafted later; the core stages what a playbook would have drafted."""
    await send(runtime, "onboard Jane jane@acme.com", "onboard")
    [task_id] = await runtime.store.ids("task", "received")
    await runtime.coordinator.handle(cmd.StartTask(task_id))
    await runtime.coordinator.handle(cmd.CompleteDraft(task_id, ONBOARD))
    task = await runtime.store.get_task(task_id)
    assert task and task.proposal_id
    return task.proposal_id


async def applied(runtime: Runtime) -> list[int]:
    return [e.action_index or 0 for _, e in await runtime.ledger.read() if e.type == "ActionApplied"]


async def test_the_second_refused_the_first_went_once_the_third_not_run_and_run_the_rest_finishes_them(
    crm: Runtime, crm_workers: Workers, smtp: Smtp, receiver: Receiver, crm_env: dict[str, str], tmp_path: Path
) -> None:
    pid = await staged(crm)
    crm_workers.start()
    receiver.statuses = [400]
    transcript = await converse(crm, f"/approve {pid}")
    assert "✗ Failed: 1 of 3 actions failed · approved by you" in transcript
    assert "\n✓ Sent to jane@acme.com\n✗ webhook crm refused it with 400: nope: bad field\n" in transcript
    assert "\n– not run: Save the note “Client Jane” to Deputy's decisions\n" in transcript
    assert f"/retry {pid}" in transcript
    assert len(smtp.messages) == 1 and len(receiver.requests) == 1 and await applied(crm) == [0]
    assert not await crm.redis.hexists(NOTES, f"{pid}:2")

    transcript = await converse(crm, f"/retry {pid}")
    assert f"Running the rest of {pid} (you)…" in transcript
    assert "✓ Done: Sent to jane@acme.com; Posted to webhook crm (200); Saved note “Client Jane”" in transcript
    assert len(smtp.messages) == 1, "the applied email was sent again"
    assert [r.key for r in receiver.requests] == [f"{pid}:1", f"{pid}:1"]
    assert await applied(crm) == [0, 1, 2] and await crm.redis.hexists(NOTES, f"{pid}:2")
    again = await converse(crm, f"/retry {pid}")
    assert f"Proposal {pid} is done; there is nothing to run. Nothing changed." in again
    assert deputy("replay", env=crm_env, cwd=tmp_path).returncode == 0
