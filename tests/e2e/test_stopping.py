"""`deputy up` stopping while an email is handed over to an SMTP server that never answers after DATA: it says
what it waits for at once, a second Ctrl-C stops it now, Redis goes last; a start that fails says only why."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from memory.embedded import free_port
from tests.conftest import Smtp, deputy, wait_for
from tests.e2e.helpers import proposal_id
from tests.e2e.procs import alive, children
from tests.e2e.test_up import ready


class StallingSmtp:
    """Takes the message's data, then never answers: the email may or may not have been sent."""

    def __init__(self) -> None:
        self.port = free_port()
        self.server = socket.create_server(("127.0.0.1", self.port))
        self.stalled = threading.Event()
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.server.accept()
            except OSError:
                return
            threading.Thread(target=self._talk, args=(conn,), daemon=True).start()

    def _talk(self, conn: socket.socket) -> None:
        reader, data = conn.makefile("rb"), False
        conn.sendall(b"220 stalling\r\n")
        for line in reader:
            if data:
                data = line != b".\r\n"
                if not data:
                    self.stalled.set()  # and no answer, ever
            elif line.upper().startswith(b"DATA"):
                data = True
                conn.sendall(b"354 go on\r\n")
            else:
                conn.sendall(b"250 ok\r\n")


class Running:
    """`deputy up` with its output read line by line as it comes."""

    def __init__(self, env: dict[str, str], cwd: Path) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "bot.cli", "up"],
            env=env,
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.lines: list[tuple[float, str]] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout
        for line in self.process.stdout:
            self.lines.append((time.monotonic(), line.rstrip("\n")))

    @property
    def output(self) -> str:
        return "\n".join(line for _, line in self.lines)

    def ready(self, port: int) -> None:
        """Until /readyz answers; if it never does, what `deputy up` printed is in the failure (a port taken
        between the test choosing it and the server binding it, a slow start on a loaded machine)."""
        try:
            wait_for(lambda: ready(port), 30, "deputy up to be ready")
        except AssertionError as err:
            raise AssertionError(f"{err}; it printed:\n{self.output}") from None

    def said(self, text: str) -> float:
        """When `text` was printed."""
        wait_for(lambda: any(text in line for _, line in self.lines), 20, f"{text!r} in:\n{self.output}")
        return next(at for at, line in self.lines if text in line)


@pytest.fixture
def stalling() -> Iterator[StallingSmtp]:
    server = StallingSmtp()
    yield server
    server.server.close()


@pytest.fixture
def up_env(env: dict[str, str], stalling: StallingSmtp) -> dict[str, str]:
    embedded = {k: v for k, v in env.items() if k != "REDIS_URL"}
    return {**embedded, "DEPUTY_PORT": str(free_port()), "DEPUTY_SMTP_URL": f"smtp://127.0.0.1:{stalling.port}"}


LEFT: list[subprocess.Popen[str]] = []


@pytest.fixture(autouse=True)
def _no_process_left() -> Iterator[None]:
    yield
    while LEFT:
        process = LEFT.pop()
        process.kill()
        process.wait(10)


def handing_over(up_env: dict[str, str], tmp_path: Path, stalling: StallingSmtp) -> tuple[Running, list[int]]:
    """`deputy up` with an approved email stuck after its data went out; its children."""
    up = Running(up_env, tmp_path)
    up.ready(int(up_env["DEPUTY_PORT"]))
    spawned = children(up.process.pid)
    pid = proposal_id(deputy("chat", env=up_env, cwd=tmp_path, stdin="email hank@example.com about the lease\n").stdout)
    approving = subprocess.Popen(
        [sys.executable, "-m", "bot.cli", "chat"],
        env=up_env,
        cwd=tmp_path,
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        text=True,
        start_new_session=True,
    )
    LEFT.append(approving)  # it waits on for the stalled email's outcome: ended by the fixture below
    assert approving.stdin
    approving.stdin.write(f"/approve {pid}\n")
    approving.stdin.close()
    assert stalling.stalled.wait(30), "the email never reached DATA"
    return up, spawned


WAITING = "Waiting for 1 email to finish handing over (at most 15 s; Ctrl-C again to stop now)."


def test_stopping_says_what_it_waits_for_and_a_second_ctrl_c_stops_the_worker_before_redis(
    up_env: dict[str, str], tmp_path: Path, stalling: StallingSmtp
) -> None:
    up, spawned = handing_over(up_env, tmp_path, stalling)
    asked = time.monotonic()
    up.process.send_signal(signal.SIGINT)
    assert up.said(WAITING) - asked < 1.0, up.output
    up.process.send_signal(signal.SIGINT)
    assert up.process.wait(20) == 130
    assert not any(alive(p) for p in spawned)
    assert "Traceback" not in up.output and "Redis unavailable" not in up.output, up.output


@pytest.mark.soak  # waits out the bound
def test_one_ctrl_c_waits_at_most_the_bound_then_stops_everything(
    up_env: dict[str, str], tmp_path: Path, stalling: StallingSmtp
) -> None:
    up, spawned = handing_over(up_env, tmp_path, stalling)
    up.process.send_signal(signal.SIGINT)
    up.said(WAITING)
    assert up.process.wait(15 + 15) == 0  # the bound, and Redis's own stop
    assert not any(alive(p) for p in spawned)
    assert "Redis unavailable" not in up.output, up.output


@pytest.mark.parametrize("broken", ["port", "policies"])
def test_a_start_that_fails_says_only_why(broken: str, up_env: dict[str, str], tmp_path: Path) -> None:
    if broken == "policies":
        (tmp_path / "data").mkdir(parents=True, exist_ok=True)
        (tmp_path / "data" / "policies.yaml").write_text("auto_approve: 7\n")
    with socket.create_server(("127.0.0.1", 0)) as taken:
        env = {**up_env, "DEPUTY_PORT": str(taken.getsockname()[1])} if broken == "port" else up_env
        result = deputy("up", env=env, cwd=tmp_path, timeout=30)
    assert result.returncode == 2
    assert "stopping" not in result.stdout + result.stderr
    assert len((result.stdout + result.stderr).strip().splitlines()) == 1, result.stdout + result.stderr
    assert not (tmp_path / "data" / "redis.url").exists()  # no Redis was started for a start that could not be


def test_stopping_names_the_approved_actions_held_for_the_next_start(
    up_env: dict[str, str], tmp_path: Path, smtp: Smtp
) -> None:
    env = {**up_env, "DEPUTY_SMTP_URL": smtp.url, "DEPUTY_UNDO_SECONDS": "600"}
    up = Running(env, tmp_path)
    up.ready(int(env["DEPUTY_PORT"]))
    pid = proposal_id(deputy("chat", env=env, cwd=tmp_path, stdin="email hank@example.com about the lease\n").stdout)
    approving = subprocess.Popen(
        [sys.executable, "-m", "bot.cli", "chat"],
        env=env,
        cwd=tmp_path,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert approving.stdin and approving.stdout
    approving.stdin.write(f"/approve {pid}\n")
    approving.stdin.close()
    assert any("/undo" in line for line in approving.stdout)  # held in its undo window (the chat then waits on)
    approving.kill()
    up.process.send_signal(signal.SIGINT)
    up.said(f"1 approved action is held for the next start ({pid}): it runs when Deputy starts again.")
    assert up.process.wait(30) == 0
    assert "Waiting for" not in up.output and smtp.messages == []
