"""Invariant 12 against real processes: a `deputy worker` killed -9 (its whole process group) while a real SMTP
server talks to it, driven through the console channel. Killed during EHLO (nothing handed over): after the
restart the email is sent exactly once and the card says Done. Killed after DATA (handed over, never
confirmed): the card says "may not have been sent", never Done, and the operator's Send again sends exactly
once more while Mark as sent sends nothing."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from bot.wiring import Runtime
from memory.embedded import free_port
from memory.streams import range_after
from tests.conftest import Smtp, Workers, deputy, eventually
from tests.e2e.helpers import converse, proposal_id, send

pytestmark = pytest.mark.soak  # each test kills a worker and waits for its job to be picked up again


class HookedSmtp(Smtp):
    """The test SMTP server, with a one-shot hook at EHLO (the client has connected, nothing is handed over)."""

    on_ehlo: Callable[[], None] | None = None

    async def handle_EHLO(
        self, server: Any, session: Any, envelope: Any, hostname: str, responses: list[str]
    ) -> list[str]:
        session.host_name = hostname
        if self.on_ehlo:
            hook, self.on_ehlo = self.on_ehlo, None
            hook()
        return responses


@pytest.fixture
def smtp() -> Iterator[HookedSmtp]:
    sink = HookedSmtp(free_port())
    controller = Controller(sink, hostname="127.0.0.1", port=sink.port)
    controller.start()
    yield sink
    controller.stop()


async def task_status(runtime: Runtime, pid: str) -> str:
    proposal = await runtime.store.get_proposal(pid)
    task = await runtime.store.get_task(proposal.task_id) if proposal else None
    return task.status.value if task else ""


async def last_said(runtime: Runtime) -> str:
    _, fields = (await range_after(runtime.redis, "deputy:console:local", "0", count=1000))[-1]
    return fields["text"]


async def _said_last(runtime: Runtime, start: str) -> bool:
    return (await last_said(runtime)).startswith(start)


async def approve_and_kill(runtime: Runtime, workers: Workers, smtp: HookedSmtp, at: str) -> str:
    """Approve an email; the worker is killed -9 at `at` ("ehlo" or "data"), then a fresh one starts."""
    first = workers.start()
    pid = proposal_id(await converse(runtime, "email jane@acme.com about invoice 42"))
    kill = lambda: workers.kill9(first)  # noqa: E731
    if at == "ehlo":
        smtp.on_ehlo = kill
    else:
        smtp.on_data = kill  # the server has the message; the worker never hears "250"
    await send(runtime, f"/approve {pid}", f"approve-{at}")
    await eventually(lambda: first.poll() is not None, what=f"the worker to be killed at {at}")
    workers.start()
    return pid


async def test_killed_during_ehlo_the_email_is_sent_once_after_the_restart_and_the_card_says_done(
    runtime: Runtime, workers: Workers, smtp: HookedSmtp, env: dict[str, str], tmp_path: Path
) -> None:
    pid = await approve_and_kill(runtime, workers, smtp, "ehlo")
    await eventually(lambda: _is(runtime, pid, "done"), 30, "the email after the restart")
    assert len(smtp.messages) == 1 and f"deputy.{pid}.0." in smtp.messages[0]["Message-ID"]
    done = "✓ Done: Sent to jane@acme.com · approved by you"  # posted right after the commit that made it true
    await eventually(lambda: _said_last(runtime, done), 30, "the card to say Done")
    assert deputy("replay", env=env, cwd=tmp_path).returncode == 0


async def test_killed_after_data_it_may_not_have_been_sent_and_send_again_sends_exactly_once_more(
    runtime: Runtime, workers: Workers, smtp: HookedSmtp, env: dict[str, str], tmp_path: Path
) -> None:
    pid = await approve_and_kill(runtime, workers, smtp, "data")
    await eventually(lambda: _is(runtime, pid, "awaiting_operator"), 30, "the worker's successor to look")
    card = await last_said(runtime)
    assert card.startswith("✗ May not have been sent: Send email “About invoice 42” to jane@acme.com")
    assert f"/resend {pid}   /sent {pid}" in card and "Done" not in card
    assert len(smtp.messages) == 1
    transcript = await converse(runtime, f"/resend {pid}")
    assert f"Sending #1 of {pid} again (you)…" in transcript and "✓ Done: Sent to jane@acme.com" in transcript
    assert len(smtp.messages) == 2 and smtp.messages[1]["Message-ID"] == smtp.messages[0]["Message-ID"]
    again = await converse(runtime, f"/resend {pid}")
    assert f"#1 of {pid} was already sent again by you at" in again and len(smtp.messages) == 2
    events = [e.type for _, e in await runtime.ledger.read()]
    assert events.count("ActionResendApproved") == 1 and events.count("ActionUncertain") == 1
    assert deputy("replay", env=env, cwd=tmp_path).returncode == 0


async def test_killed_after_data_mark_as_sent_sends_nothing_and_settles_it(
    runtime: Runtime, workers: Workers, smtp: HookedSmtp, env: dict[str, str], tmp_path: Path
) -> None:
    pid = await approve_and_kill(runtime, workers, smtp, "data")
    await eventually(lambda: _is(runtime, pid, "awaiting_operator"), 30, "the worker's successor to look")
    transcript = await converse(runtime, f"/sent {pid}")
    assert "✓ Done: Send email “About invoice 42” to jane@acme.com — marked as sent by you" in transcript
    assert len(smtp.messages) == 1 and await task_status(runtime, pid) == "done"
    [marked] = [e for _, e in await runtime.ledger.read() if e.type == "ActionMarkedSent"]
    assert marked.actor and marked.actor.startswith("console:") and marked.action_status == "applied"
    assert deputy("replay", env=env, cwd=tmp_path).returncode == 0


async def _is(runtime: Runtime, pid: str, status: str) -> bool:
    return await task_status(runtime, pid) == status
