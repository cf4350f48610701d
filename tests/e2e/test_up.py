"""`deputy up` as a user runs it: embedded Redis, web, worker; Ctrl-C stops all of it; state survives."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from redis import Redis

from bot.up import Child, check
from memory.embedded import EmbeddedRedis, free_port
from tests.conftest import Smtp, deputy, wait_for
from tests.e2e.helpers import proposal_id
from tests.e2e.procs import alive, children, command_line


def ready(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=1) as response:
            return bool(json.load(response)["status"] == "ready")
    except OSError:
        return False


class Up:
    def __init__(self, env: dict[str, str], cwd: Path) -> None:
        self.env, self.cwd = env, cwd
        self.process: subprocess.Popen[str] | None = None

    def start(self) -> subprocess.Popen[str]:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "bot.cli", "up"],
            env=self.env,
            cwd=self.cwd,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        wait_for(lambda: ready(int(self.env["DEPUTY_PORT"])), 30, "deputy up to be ready")
        return self.process

    def interrupt(self) -> str:
        assert self.process is not None
        self.process.send_signal(signal.SIGINT)
        output, _ = self.process.communicate(timeout=30)
        return output


@pytest.fixture
def up_env(env: dict[str, str]) -> dict[str, str]:
    embedded = {k: v for k, v in env.items() if k != "REDIS_URL"}
    return {**embedded, "DEPUTY_PORT": str(free_port())}


@pytest.fixture
def up(up_env: dict[str, str], tmp_path: Path) -> Iterator[Up]:
    runner = Up(up_env, tmp_path)
    yield runner
    if runner.process and runner.process.poll() is None:
        runner.process.kill()


def test_pending_proposal_survives_a_restart_and_nothing_is_left_running(
    up: Up, up_env: dict[str, str], tmp_path: Path, smtp: Smtp
) -> None:
    first = up.start()
    spawned = children(first.pid)
    assert len(spawned) == 2  # the embedded redis-server and the worker
    asked = deputy("chat", env=up_env, cwd=tmp_path, stdin="email jane@acme.com about invoice 42\n")
    pid = proposal_id(asked.stdout)

    output = up.interrupt()
    assert first.returncode == 0 and "Deputy is stopping" in output
    wait_for(lambda: not any(alive(p) for p in spawned), 15, "no orphan processes")
    assert not (tmp_path / "data" / "redis.url").exists()
    assert "appendfsync always" in (tmp_path / "data" / "redis.conf").read_text()

    up.start()
    status = deputy("chat", env=up_env, cwd=tmp_path, stdin="/status\n")
    assert f"{pid}:" in status.stdout and "Pending proposals: 1" in status.stdout
    done = deputy("chat", env=up_env, cwd=tmp_path, stdin=f"/approve {pid}\n")
    assert "Done: Sent to jane@acme.com" in done.stdout, done.stdout + done.stderr
    assert len(smtp.messages) == 1
    up.interrupt()


def test_chat_without_a_running_deputy_says_how_to_start_it(up_env: dict[str, str], tmp_path: Path) -> None:
    result = deputy("chat", env=up_env, cwd=tmp_path, stdin="/status\n")
    assert result.returncode == 2
    assert "no embedded Redis is running" in result.stderr and "deputy up" in result.stderr


@pytest.mark.soak
def test_up_restarts_a_killed_worker_and_a_killed_redis_and_says_so_once(
    up: Up, up_env: dict[str, str], tmp_path: Path, smtp: Smtp
) -> None:
    first = up.start()
    [worker] = [p for p in children(first.pid) if "bot.cli worker" in command_line(p)]
    [redis] = [p for p in children(first.pid) if "redis-server" in command_line(p)]
    os.kill(worker, signal.SIGKILL)
    wait_for(lambda: _worker_other_than(first.pid, worker), 30, "up to start another worker")
    os.kill(redis, signal.SIGKILL)
    wait_for(lambda: _redis_other_than(first.pid, redis), 30, "up to start Redis again")
    asked = deputy("chat", env=up_env, cwd=tmp_path, stdin="email jane@acme.com about invoice 42\n")
    pid = proposal_id(asked.stdout)
    done = deputy("chat", env=up_env, cwd=tmp_path, stdin=f"/approve {pid}\n")
    assert "Done: Sent to jane@acme.com" in done.stdout, done.stdout + done.stderr
    assert len(smtp.messages) == 1
    told = [text for text in _console_texts(tmp_path) if "and was restarted." in text]
    output = up.interrupt()
    assert output.count("the worker stopped (killed by SIGKILL); restarting it") == 1, output
    assert output.count("the embedded Redis stopped") == 1, output
    assert len(told) == 2 and "✗ The worker stopped (killed by SIGKILL) and was restarted." in told, told


def _console_texts(tmp_path: Path) -> list[str]:
    """What Deputy posted to the console chat (the report chat here)."""
    with Redis.from_url((tmp_path / "data" / "redis.url").read_text().strip()) as client:
        return [fields[b"text"].decode() for _, fields in client.xrange("deputy:console:local")]


def _worker_other_than(up_pid: int, old: int) -> bool:
    return any("bot.cli worker" in command_line(p) and p != old for p in children(up_pid))


def _redis_other_than(up_pid: int, old: int) -> bool:
    return any("redis-server" in command_line(p) and p != old for p in children(up_pid))


async def test_a_child_that_exits_is_restarted_with_backoff_and_the_operator_told_once(
    capsys: pytest.CaptureFixture[str],
) -> None:
    runs = {"up": 0, "restarts": 0}

    def restart() -> None:
        runs["restarts"] += 1
        runs["up"] = int(runs["restarts"] >= 2)  # the first restart fails (the disk is still full)

    told: list[str] = []

    async def tell(text: str) -> bool:
        told.append(text)
        return True

    child = Child("embedded Redis", lambda: bool(runs["up"]), restart, lambda: "disk full in /data")
    for _ in range(3):
        await check(child, tell)
        child.next_try = 0.0  # as if the backoff had passed
    assert runs["restarts"] == 2 and child.delay == 4.0
    assert capsys.readouterr().err.count("Deputy: the embedded Redis stopped (disk full in /data)") == 1
    assert told == ["The embedded Redis stopped (disk full in /data) and was restarted."]


def test_the_embedded_redis_names_a_full_disk_from_its_log(tmp_path: Path) -> None:
    line = "Can't recover from AOF write error when the AOF fsync policy is 'always'. Exiting..."
    (tmp_path / "redis.log").write_text(f"1:M 01 Dec 2026 10:00:00.000 # {line}\n")
    assert EmbeddedRedis(tmp_path).exit_reason() == f"disk full in {tmp_path.resolve()}"
    (tmp_path / "redis.log").write_text("1:M 01 Dec 2026 10:00:00.000 # Bad directive at line 3\n")
    assert EmbeddedRedis(tmp_path).exit_reason().endswith(": Bad directive at line 3")


def test_a_killed_up_mid_job_leaves_no_worker_or_redis_behind(up: Up, up_env: dict[str, str], tmp_path: Path) -> None:
    up.env = {**up_env, "DEPUTY_OFFLINE_LATENCY_MS": "8000"}  # a draft is running when `up` is killed
    first = up.start()
    spawned = children(first.pid)
    [worker] = [p for p in spawned if "bot.cli worker" in command_line(p)]
    job_processes = children(worker)
    chat = subprocess.Popen(
        [sys.executable, "-m", "bot.cli", "chat"],
        env=up.env,
        cwd=tmp_path,
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert chat.stdin is not None
    chat.stdin.write("email jane@acme.com about invoice 42\n")
    chat.stdin.close()
    with Redis.from_url((tmp_path / "data" / "redis.url").read_text().strip()) as client:
        wait_for(lambda: client.scard("deputy:idx:task:running"), 30, "the draft to run")
    first.kill()  # SIGKILL: the kernel tells its Redis and its worker (whose job now can't reach Redis)
    first.wait(10)
    chat.kill()
    chat.wait(10)
    every = [*spawned, *job_processes]
    wait_for(lambda: not any(alive(p) for p in every), 30, "the worker, its job process and Redis to exit")
