"""The `deputy` command as users run it: exit codes, one-line errors, doctor, ledger."""

from __future__ import annotations

import json
from pathlib import Path

from redis import Redis

from tests.conftest import Smtp, Workers, deputy, wait_for


def test_bad_setting_fails_with_one_line_naming_the_variable(env: dict[str, str], tmp_path: Path) -> None:
    result = deputy("doctor", env={**env, "DEPUTY_PORT": "eighty"}, cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0
    assert "DEPUTY_PORT" in result.stderr and "'eighty'" in result.stderr


def test_operators_must_be_platform_and_id(env: dict[str, str], tmp_path: Path) -> None:
    result = deputy("doctor", env={**env, "DEPUTY_OPERATORS": "sam"}, cwd=tmp_path)
    assert result.returncode == 2 and "DEPUTY_OPERATORS" in result.stderr and "slack:U0123ABC" in result.stderr


def test_dotenv_in_the_working_directory_is_read(env: dict[str, str], tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("DEPUTY_DAILY_BUDGET_USD=-1\n")
    result = deputy("doctor", env=env, cwd=tmp_path)
    assert result.returncode == 2 and "DEPUTY_DAILY_BUDGET_USD" in result.stderr


def test_doctor_flags_missing_persistence_then_all_ok(
    env: dict[str, str], tmp_path: Path, workers: Workers, smtp: Smtp
) -> None:
    workers.start()
    first = wait_for(
        lambda: (r := deputy("doctor", env=env, cwd=tmp_path)).stdout.count("1 alive") and r, 20, "a live worker"
    )
    assert first.returncode == 2 and "FIX Redis persistence: appendonly=no" in first.stdout
    with Redis.from_url(env["REDIS_URL"]) as client:
        client.config_set("appendonly", "yes")
        try:
            result = deputy("doctor", env=env, cwd=tmp_path)
        finally:
            client.config_set("appendonly", "no")
    assert result.returncode == 0, result.stdout
    assert "ok  Redis: reachable" in result.stdout and "ok  Email: SMTP at 127.0.0.1" in result.stdout
    assert "ok  Redis persistence: AOF on" in result.stdout and result.stdout.endswith("All good.\n")


def test_doctor_names_each_problem(env: dict[str, str], tmp_path: Path) -> None:
    broken = {**env, "REDIS_URL": "redis://127.0.0.1:1/0", "DEPUTY_SMTP_URL": "smtp://127.0.0.1:1"}
    result = deputy("doctor", env=broken, cwd=tmp_path)
    assert result.returncode == 2
    assert "FIX Redis: can't reach redis://127.0.0.1:1/0" in result.stdout
    assert "FIX Email: can't talk to SMTP at 127.0.0.1:1" in result.stdout


def test_ledger_prints_lines_and_json(env: dict[str, str], tmp_path: Path, workers: Workers) -> None:
    workers.start()
    deputy("chat", env=env, cwd=tmp_path, stdin="/remember the office wifi is guest-42\n")
    text = deputy("ledger", env=env, cwd=tmp_path)
    assert "TaskSubmitted" in text.stdout and "TaskReplied" in text.stdout
    rows = [json.loads(line) for line in deputy("ledger", "--json", env=env, cwd=tmp_path).stdout.splitlines()]
    assert [r["type"] for r in rows] == ["TaskSubmitted", "TaskStarted", "TaskReplied"]
    assert rows[0]["actor"].startswith("console:") and rows[-1]["task_status"] == "done"
    assert deputy("ledger", "--since", "1d", env=env, cwd=tmp_path).stdout.count("\n") == 3
    assert deputy("ledger", "--since", "2999-01-01", env=env, cwd=tmp_path).stdout == ""
    bad = deputy("ledger", "--since", "yesterday", env=env, cwd=tmp_path)
    assert bad.returncode == 2 and "--since" in bad.stderr


def test_unknown_command_is_usage_error(env: dict[str, str], tmp_path: Path) -> None:
    assert deputy("frobnicate", env=env, cwd=tmp_path).returncode == 2
