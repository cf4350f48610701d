"""What a user sees when something is wrong or a pipe closes: one line on stderr and exit 2, or a quiet exit 0 —
never a traceback, and never "Deputy is up" with no Redis behind it."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from memory.embedded import free_port
from tests.conftest import deputy

UNREACHABLE = "redis://127.0.0.1:1/0"
NEEDING_REDIS = ["ledger", "replay", "stats", "digest", "chat", "up", "worker", "scheduler", "shadow"]


def one_line_exit_2(result: subprocess.CompletedProcess[str], *names: str) -> str:
    """The one stderr line, once it has been checked for what every configuration error must be."""
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr + result.stdout
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("deputy: ") and all(name in lines[0] for name in names), lines[0]
    return lines[0]


@pytest.fixture
def env_up(env: dict[str, str]) -> dict[str, str]:
    """`deputy up` on a free port: a stray 8080 elsewhere must not decide a test."""
    return {**env, "DEPUTY_PORT": str(free_port())}


@pytest.mark.parametrize("command", NEEDING_REDIS)
def test_an_unreachable_redis_is_one_line_naming_redis_url(
    env_up: dict[str, str], tmp_path: Path, command: str
) -> None:
    started = time.monotonic()
    result = deputy(command, env={**env_up, "REDIS_URL": UNREACHABLE}, cwd=tmp_path, timeout=30)
    line = one_line_exit_2(result, "REDIS_URL", "127.0.0.1:1")
    assert "Redis is unreachable at redis://127.0.0.1:1/0" in line
    assert "Deputy is up" not in result.stdout
    assert time.monotonic() - started < 20  # `up` gave up at once instead of serving without Redis


@pytest.mark.parametrize("command", [*NEEDING_REDIS, "doctor", "serve"])
def test_a_malformed_redis_url_is_one_line_naming_it(env_up: dict[str, str], tmp_path: Path, command: str) -> None:
    result = deputy(command, env={**env_up, "REDIS_URL": "notaurl"}, cwd=tmp_path, timeout=30)
    line = one_line_exit_2(result, "REDIS_URL", "redis://")
    assert "Deputy is up" not in result.stdout and "notaurl" in line


def test_a_redis_url_with_a_bad_port_is_named_without_its_password(env: dict[str, str], tmp_path: Path) -> None:
    result = deputy("up", env={**env, "REDIS_URL": "redis://sam:hunter2@redis.example:63x9/0"}, cwd=tmp_path)
    line = one_line_exit_2(result, "REDIS_URL", "Port")
    assert "hunter2" not in line and "redis://***@redis.example:63x9/0" in line


def test_doctor_names_an_unreachable_redis_among_its_checks(env: dict[str, str], tmp_path: Path) -> None:
    result = deputy("doctor", env={**env, "REDIS_URL": UNREACHABLE}, cwd=tmp_path)
    assert result.returncode == 2 and result.stderr == "" and "Traceback" not in result.stdout
    assert f"FIX Redis: can't reach {UNREACHABLE}" in result.stdout and "check REDIS_URL" in result.stdout
    assert "ok  Email: SMTP at 127.0.0.1" in result.stdout  # the other checks still ran


@pytest.mark.parametrize(
    ("setting", "value", "says"),
    [
        ("DEPUTY_PORT", "99999", "less than or equal to 65535"),
        ("DEPUTY_TIMEZONE", "Mars/Base", "is not an IANA time zone"),
        ("DEPUTY_LLM_PRICES", "house-model=cheap/free", "prices must be numbers"),
        ("DEPUTY_LOG_LEVEL", "LOUD", "is not a log level"),
    ],
)
def test_a_malformed_setting_is_one_line_naming_it(
    env: dict[str, str], tmp_path: Path, setting: str, value: str, says: str
) -> None:
    for command in ("ledger", "doctor"):
        one_line_exit_2(deputy(command, env={**env, setting: value}, cwd=tmp_path), setting, says)


def test_the_log_level_may_come_from_dotenv(env: dict[str, str], tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("DEPUTY_LOG_LEVEL=chatty\n")
    without = {k: v for k, v in env.items() if k != "DEPUTY_LOG_LEVEL"}
    one_line_exit_2(deputy("ledger", env=without, cwd=tmp_path), "DEPUTY_LOG_LEVEL", "'chatty'")


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["digest", "--date", "2026-13-01"], "--date '2026-13-01' is not YYYY-MM-DD"),
        (["digest", "--date", "0001-01-02"], "--date '0001-01-02' is too early"),
        (["ledger", "--since", "nonsense"], "--since 'nonsense': use an ISO time"),
        (["ledger", "--since", "800000d"], "--since '800000d' reaches back before the year 1"),
        (["stats", "--since", "99999999999d"], "--since '99999999999d'"),
    ],
)
def test_a_malformed_argument_is_one_line(env: dict[str, str], tmp_path: Path, args: list[str], says: str) -> None:
    one_line_exit_2(deputy(*args, env=env, cwd=tmp_path), says)


BAD_FILES = [
    ("policies.yaml", b"auto_approve: [\n  - name: x\n", "expected the node content"),
    ("policies.yaml", b"\xff\xfeundoable: []\n", "is not UTF-8 text (byte 0)"),
    ("playbooks/mine.yaml", b"name: mine\ndescription: caf\xe9\n", "is not UTF-8 text (byte 27)"),
    ("playbooks/mine.yaml", b": : :\n  - [", "expected <block end>"),
]


@pytest.mark.parametrize(("name", "content", "says"), BAD_FILES)
def test_an_unreadable_policies_or_playbook_file_is_one_line_naming_it(
    env_up: dict[str, str], tmp_path: Path, name: str, content: bytes, says: str
) -> None:
    path = Path(env_up["DEPUTY_DATA_DIR"]) / name
    path.parent.mkdir(parents=True)
    path.write_bytes(content)
    for command in ("digest", "stats", "up"):
        one_line_exit_2(deputy(command, env=env_up, cwd=tmp_path, timeout=30), str(path), says)
    doctor = deputy("doctor", env=env_up, cwd=tmp_path)
    [line] = [line for line in doctor.stdout.splitlines() if line.startswith("FIX Policies and playbooks: ")]
    assert doctor.returncode == 2 and str(path) in line and says in line
    assert "Traceback" not in doctor.stdout + doctor.stderr


def test_doctor_reads_the_policies_and_playbooks(env: dict[str, str], tmp_path: Path) -> None:
    result = deputy("doctor", env=env, cwd=tmp_path)
    assert "ok  Policies and playbooks: the default policies and 12 playbook(s) read\n" in result.stdout
    own = Path(env["DEPUTY_DATA_DIR"]) / "policies.yaml"
    own.parent.mkdir(parents=True)
    own.write_text("undoable: [email.send]\n")
    result = deputy("doctor", env=env, cwd=tmp_path)
    assert f"ok  Policies and playbooks: policies from {own} and 12 playbook(s) read\n" in result.stdout


def closed_pipe(
    *args: str, env: dict[str, str], cwd: Path, stdin: str = "", read_lines: int = 0, buffered: bool = True
) -> tuple[int, str, float]:
    """`deputy … | head -<read_lines>`: stdout's reader reads that many lines, then goes away."""
    env = {k: v for k, v in env.items() if k != "PYTHONUNBUFFERED"} | ({} if buffered else {"PYTHONUNBUFFERED": "1"})
    started = time.monotonic()
    process = subprocess.Popen(
        [sys.executable, "-m", "bot.cli", *args],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        cwd=cwd,
    )
    assert process.stdin and process.stdout and process.stderr
    process.stdin.write(stdin.encode())
    process.stdin.close()
    for _ in range(read_lines):
        process.stdout.readline()
    process.stdout.close()
    code = process.wait(timeout=90)
    return code, process.stderr.read().decode(), time.monotonic() - started


@pytest.mark.parametrize(
    "args",
    [["doctor"], ["stats"], ["shadow", "--json"], ["digest", "--now"], ["ledger"], ["replay"], ["--help"]],
)
@pytest.mark.parametrize("buffered", [True, False])
def test_a_closed_pipe_ends_a_command_quietly(
    env: dict[str, str], tmp_path: Path, args: list[str], buffered: bool
) -> None:
    code, stderr, _ = closed_pipe(*args, env=env, cwd=tmp_path, buffered=buffered)
    assert code == 0 and "Traceback" not in stderr and "BrokenPipe" not in stderr, stderr


@pytest.mark.parametrize(("args", "read_lines"), [(["chat"], 1), (["ledger", "--follow"], 0)])
def test_a_command_that_waits_ends_when_its_reader_goes(
    env: dict[str, str], tmp_path: Path, args: list[str], read_lines: int
) -> None:
    script = "plan the launch\n/status\nremember the office wifi is guest-42\n"
    code, stderr, took = closed_pipe(*args, env=env, cwd=tmp_path, stdin=script, read_lines=read_lines)
    assert code == 0 and "Traceback" not in stderr, stderr
    assert took < 20  # not the 60 s a piped chat waits for replies, nor a follow that waits for ever


def test_bad_usage_is_one_line_naming_the_help(env: dict[str, str], tmp_path: Path) -> None:
    for args in (("frobnicate",), ("ledger", "--bogus"), ("stats", "--since")):
        result = deputy(*args, env=env, cwd=tmp_path)
        assert result.returncode == 2 and len(result.stderr.strip().splitlines()) == 1, result.stderr
        assert "--help' says more" in result.stderr


def test_shadow_with_a_hosted_model_and_no_key_is_one_line(env: dict[str, str], tmp_path: Path) -> None:
    """Issue 29 (#29): not a playbook difference after a 500 from the provider, but the missing key, before any call."""
    bare = {k: v for k, v in env.items() if k != "OPENAI_API_KEY"}
    result = deputy("shadow", "--model", "openai/gpt-4o-mini", "--limit", "1", env=bare, cwd=tmp_path)
    line = one_line_exit_2(result, "--model openai/gpt-4o-mini", "OPENAI_API_KEY")
    assert line.endswith("nothing was drafted")


def test_a_bad_triage_rule_stops_deputy_at_start_in_one_line(env_up: dict[str, str], tmp_path: Path) -> None:
    """The operator's inbox playbook with a kind Deputy doesn't sort by: `deputy up` names the file and the rule."""
    path = Path(env_up["DEPUTY_DATA_DIR"]) / "playbooks" / "inbox.yaml"
    path.parent.mkdir(parents=True)
    built_in = (Path(__file__).resolve().parents[2] / "config" / "playbooks" / "inbox.yaml").read_text()
    path.write_text(built_in.replace("  - kind: spam\n    no_sender: true", "  - kind: urgent\n    no_sender: true"))
    line = one_line_exit_2(deputy("up", env=env_up, cwd=tmp_path, timeout=30), str(path), "triage.0.kind")
    assert "'needs reply', 'FYI', 'invoice', 'newsletter' or 'spam'" in line
