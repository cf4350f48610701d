"""The console as a person uses it: a real pseudo-terminal, typed lines, Ctrl-C."""

from __future__ import annotations

import os
import pty
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.conftest import Workers


def read_until(fd: int, needle: str, timeout: float = 20) -> str:
    seen, deadline = "", time.monotonic() + timeout
    while needle not in seen:
        assert time.monotonic() < deadline, f"never saw {needle!r} in:\n{seen}"
        if select.select([fd], [], [], 0.2)[0]:
            seen += os.read(fd, 65536).decode(errors="replace")
    return seen


def test_repl_answers_typed_lines_and_stops_on_ctrl_c(env: dict[str, str], tmp_path: Path, workers: Workers) -> None:
    workers.start()
    leader, follower = pty.openpty()
    chat = subprocess.Popen(
        [sys.executable, "-m", "bot.cli", "chat"],
        env=env,
        cwd=tmp_path,
        stdin=follower,
        stdout=follower,
        stderr=follower,
        start_new_session=True,
    )
    os.close(follower)
    try:
        read_until(leader, "deputy> ")
        os.write(leader, b"plan the launch\n")
        read_until(leader, "Done: Saved note")  # notes are saved by the default rule
        os.write(leader, b"/status\n")
        read_until(leader, "Pending proposals: 0")
        os.write(leader, b"/help\n")
        shown = read_until(leader, "/help                             this list")
        time.sleep(0.3)
        shown += os.read(leader, 65536).decode(errors="replace") if select.select([leader], [], [], 0.5)[0] else ""
        assert "deputy> deputy>" not in shown.replace("\x1b[K", "").replace("\r", "")  # an instant reply: one prompt
        chat.send_signal(signal.SIGINT)  # what Ctrl-C delivers; nothing may wait for another Enter
        assert chat.wait(10) in (0, 130)
    finally:
        if chat.poll() is None:
            chat.kill()
        os.close(leader)
