"""End to end through the console channel: a real worker process, real Redis, a real SMTP server."""

from __future__ import annotations

import codecs
import os
import select
import subprocess
import sys
import time
from pathlib import Path
from subprocess import PIPE

from redis import Redis
from rq.job import Job, JobStatus
from rq.serializers import JSONSerializer

from agents.queue import apply_job_id
from bot.wiring import Runtime
from tests.conftest import Smtp, Workers, deputy, wait_for
from tests.e2e.helpers import converse, proposal_id


async def test_request_approve_sends_exactly_one_email(runtime: Runtime, workers: Workers, smtp: Smtp) -> None:
    workers.start()
    transcript = await converse(runtime, "email jane@acme.com a follow-up on invoice 42")
    pid = proposal_id(transcript)
    assert "to jane@acme.com" in transcript and f"/approve {pid}" in transcript and f"/reject {pid}" in transcript
    assert smtp.messages == []

    transcript = await converse(runtime, f"/approve {pid}")
    assert "Done: Sent to jane@acme.com · approved by you" in transcript
    assert len(smtp.messages) == 1
    mail = smtp.messages[0]
    assert mail["Subject"] == "Follow-up on invoice 42" and mail["To"] == "jane@acme.com"
    assert f"deputy.{pid}.0." in mail["Message-ID"]

    again = await converse(runtime, f"/approve {pid}")
    assert f"Proposal {pid} was already approved by you at" in again
    assert len(smtp.messages) == 1


async def test_reject_sends_nothing_and_the_ledger_says_so(runtime: Runtime, workers: Workers, smtp: Smtp) -> None:
    workers.start()
    pid = proposal_id(await converse(runtime, "email bob@example.org about the contract"))
    transcript = await converse(runtime, f"/reject {pid} not now")
    assert f"Rejected {pid}" in transcript
    events = [e for _, e in await runtime.ledger.read()]
    assert events[-1].type == "ProposalRejected" and events[-1].summary == "not now"
    assert smtp.messages == []


async def test_plain_request_gets_a_plan_saved_by_the_default_rule(runtime: Runtime, workers: Workers) -> None:
    workers.start()
    transcript = await converse(runtime, "prepare the quarterly report")
    pid = proposal_id(transcript)
    assert "Plan for: prepare the quarterly report" in transcript
    assert "Done: Saved note “prepare the quarterly report” · approved by rule notes-always" in transcript
    approved = [e for _, e in await runtime.ledger.read() if e.type == "ProposalApproved"]
    assert [(e.proposal_id, e.actor, e.summary) for e in approved] == [
        (pid, "policy:notes-always", "auto-approved by rule notes-always")
    ]
    again = await converse(runtime, f"/approve {pid}")
    assert f"Proposal {pid} was already approved by rule notes-always at" in again


async def test_remember_then_ask(runtime: Runtime, workers: Workers) -> None:
    workers.start()
    assert "Remembered m1: ACME pays net 30" in await converse(runtime, "/remember ACME pays net 30")
    answer = await converse(runtime, "when does ACME pay?")
    assert answer.count("ACME pays net 30") == 1 and "ACME pays net 30  (m1)" in answer and "📎" not in answer


async def test_bad_input_gets_a_clear_reply_and_changes_nothing(runtime: Runtime, workers: Workers, smtp: Smtp) -> None:
    workers.start()
    transcript = await converse(
        runtime,
        "/task ",
        "x" * 100_000,
        "email jane@@acme..com about x",
        "/approve pnothere",
        "/frobnicate",
    )
    assert "That message is empty" in transcript
    assert "the limit is 8,000" in transcript
    assert "'jane@@acme..com' is not a valid email address" in transcript
    assert "No proposal with id 'pnothere'" in transcript
    assert "I don't know /frobnicate" in transcript
    assert await runtime.store.ids("proposal", "pending") == []
    assert smtp.messages == []


async def test_deputy_chat_command_with_piped_input(
    env: dict[str, str], tmp_path: Path, workers: Workers, smtp: Smtp
) -> None:
    workers.start()
    result = deputy("chat", env=env, cwd=tmp_path, stdin="email jane@acme.com about invoice 42\n/status\n")
    assert result.returncode == 0, result.stderr
    pid = proposal_id(result.stdout)
    assert "Pending proposals: 1" in result.stdout
    result = deputy("chat", env=env, cwd=tmp_path, stdin=f"/approve {pid}\n")
    assert result.returncode == 0 and "Done: Sent to jane@acme.com" in result.stdout
    assert len(smtp.messages) == 1 and "no worker is running" not in result.stderr


def test_deputy_chat_says_when_no_worker_is_running(env: dict[str, str], tmp_path: Path) -> None:
    result = deputy("chat", env=env, cwd=tmp_path, stdin="/status\n")
    assert result.returncode == 0 and "Running tasks: 0" in result.stdout
    assert "no worker is running, so requests will wait until one starts" in result.stderr


async def test_permanent_smtp_refusal_fails_once_and_says_why(runtime: Runtime, workers: Workers, smtp: Smtp) -> None:
    async def refuse(server: object, session: object, envelope: object, address: str, options: object) -> str:
        return "550 5.1.1 no such user"

    smtp.handle_RCPT = refuse  # type: ignore[attr-defined]
    workers.start()
    pid = proposal_id(await converse(runtime, "email ghost@acme.com about invoice 42"))
    transcript = await converse(runtime, f"/approve {pid}")
    assert "Failed: the SMTP server refused the recipient: ghost@acme.com (550" in transcript
    proposal = await runtime.store.get_proposal(pid)
    assert proposal and proposal.actions[0].status.value == "failed"
    assert [e.type for _, e in await runtime.ledger.read()].count("ActionFailed") == 1
    assert smtp.messages == []


def held_send_ran(env: dict[str, str], pid: str) -> bool:
    """The apply job held for the undo window has run (it finds the proposal undone, or sends)."""
    with Redis.from_url(env["REDIS_URL"]) as connection:
        if not Job.exists(apply_job_id(pid), connection=connection):
            return False
        job = Job.fetch(apply_job_id(pid), connection=connection, serializer=JSONSerializer)
        return job.get_status() is JobStatus.FINISHED


def email_proposal(env: dict[str, str], cwd: Path) -> str:
    return proposal_id(deputy("chat", env=env, cwd=cwd, stdin="email jane@acme.com about invoice 42\n").stdout)


def test_a_script_can_undo_what_it_approved(env: dict[str, str], tmp_path: Path, workers: Workers, smtp: Smtp) -> None:
    env = {**env, "DEPUTY_UNDO_SECONDS": "5"}
    workers.start(DEPUTY_UNDO_SECONDS="5")
    pid = email_proposal(env, tmp_path)
    result = deputy("chat", env=env, cwd=tmp_path, stdin=f"/approve {pid}\n/undo {pid}\n")
    assert result.returncode == 0, result.stderr
    assert f"sending in 5 s. /undo {pid} to cancel." in result.stdout
    assert f"Undone: {pid} was cancelled by you before it ran. Nothing was sent." in result.stdout
    assert "gave up waiting" not in result.stdout
    wait_for(lambda: held_send_ran(env, pid), 30, "the end of the undo window")
    assert smtp.messages == []


def read_until(process: subprocess.Popen[str], needle: str, timeout: float = 15) -> str:
    """What a running `deputy chat` has printed, once it has printed `needle`."""
    assert process.stdout is not None
    seen, deadline, decoder = "", time.monotonic() + timeout, codecs.getincrementaldecoder("utf-8")()
    while needle not in seen:
        assert time.monotonic() < deadline, f"never saw {needle!r} in:\n{seen}"
        if select.select([process.stdout], [], [], 0.2)[0]:
            seen += decoder.decode(os.read(process.stdout.fileno(), 65536))
    return seen


def test_a_script_goes_on_in_the_undo_window_and_at_the_end_waits_for_the_outcome(
    env: dict[str, str], tmp_path: Path, workers: Workers, smtp: Smtp
) -> None:
    env = {**env, "DEPUTY_UNDO_SECONDS": "20"}
    workers.start(DEPUTY_UNDO_SECONDS="20")
    pid = email_proposal(env, tmp_path)
    script = subprocess.Popen(
        [sys.executable, "-m", "bot.cli", "chat"], env=env, cwd=tmp_path, text=True, stdin=PIPE, stdout=PIPE
    )
    try:
        assert script.stdin is not None
        script.stdin.write(f"/approve {pid}\n/status\n")
        script.stdin.close()
        shown = read_until(script, "Running tasks")  # the next line ran while the email is held
        assert deputy("chat", env=env, cwd=tmp_path, stdin=f"/undo {pid}\n").returncode == 0  # from another console
        assert script.wait(30) == 0
        assert script.stdout is not None
        shown += script.stdout.read()
    finally:
        if script.poll() is None:
            script.kill()
    assert shown.index(f"/undo {pid} to cancel") < shown.index("Running tasks") < shown.index(f"Undone: {pid}")
    assert "gave up waiting" not in shown
    assert smtp.messages == []
