"""Whether an approval can be carried out is the running Deputy's answer, not the typing terminal's: a second
terminal without the SMTP settings approves, and the worker (which has them) sends; doctor says the same."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import Smtp, Workers, deputy, wait_for
from tests.e2e.helpers import proposal_id


def without_smtp(env: dict[str, str]) -> dict[str, str]:
    return {k: v for k, v in env.items() if k not in ("DEPUTY_SMTP_URL", "DEPUTY_EMAIL_FROM")}


def test_a_terminal_without_smtp_settings_approves_and_the_running_worker_sends(
    env: dict[str, str], tmp_path: Path, workers: Workers, smtp: Smtp
) -> None:
    workers.start()  # the running Deputy: SMTP set up in its environment
    other = without_smtp(env)
    asked = deputy("chat", env=other, cwd=tmp_path, stdin="email hank@example.com about the lease renewal\n")
    pid = proposal_id(asked.stdout)
    assert "SMTP is not set up" not in asked.stdout, asked.stdout
    done = deputy("chat", env=other, cwd=tmp_path, stdin=f"/approve {pid}\n")
    assert "Done: Sent to hank@example.com" in done.stdout, done.stdout + done.stderr
    wait_for(lambda: len(smtp.messages) == 1, 10, "the email")

    doctor = deputy("doctor", env=other, cwd=tmp_path)
    assert "ok  Action email.send: ready" in doctor.stdout, doctor.stdout
    assert "SMTP not set" not in doctor.stdout


def test_a_running_deputy_without_smtp_refuses_even_where_the_terminal_has_it(
    env: dict[str, str], tmp_path: Path, workers: Workers, smtp: Smtp
) -> None:
    workers.env = without_smtp(env)
    workers.start()
    pid = proposal_id(deputy("chat", env=env, cwd=tmp_path, stdin="email hank@example.com about the lease\n").stdout)
    refused = deputy("chat", env=env, cwd=tmp_path, stdin=f"/approve {pid}\n")
    assert f"Can't approve {pid}: email can't be sent: SMTP is not set up" in refused.stdout, refused.stdout
    assert smtp.messages == []
