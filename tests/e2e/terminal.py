"""A console session at a real pseudo-terminal, and a small VT100 that shows what the operator would see."""

from __future__ import annotations

import codecs
import fcntl
import os
import pty
import re
import select
import struct
import subprocess
import sys
import termios
import time
from pathlib import Path

COLUMNS = 120
TOKENS = re.compile(r"\x1b\[([0-9;?]*)([@-~])|\x1b\][^\x07]*\x07|\x1b.|[\x00-\x1f]|[^\x00-\x1f\x1b]+", re.DOTALL)


class Vt100:
    """Enough of a terminal for the console's output: text, CR, LF (as CR LF, like a pty), BS, cursor moves and
    erasing (CSI A B C D H K J). Other sequences (bracketed paste, colours) change nothing here; nothing scrolls off."""

    def __init__(self, columns: int = COLUMNS) -> None:
        self.columns = columns
        self.rows: list[list[str]] = [[]]
        self.row = self.col = 0

    @classmethod
    def showing(cls, output: str) -> list[str]:
        terminal = cls()
        terminal.feed(output)
        return terminal.lines

    @property
    def lines(self) -> list[str]:
        return ["".join(row).rstrip() for row in self.rows]

    def feed(self, data: str) -> None:
        for token in TOKENS.finditer(data):
            if token[2]:
                self._csi(token[1], token[2])
            elif token[0] == "\r":
                self.col = 0
            elif token[0] == "\n":
                self._move(self.row + 1, 0)  # as a terminal with ONLCR, what a pty has by default
            elif token[0] == "\b":
                self.col = max(0, self.col - 1)
            elif not token[0].startswith("\x1b") and token[0] >= " ":
                self._text(token[0])

    def _text(self, text: str) -> None:
        for char in text:
            if self.col >= self.columns:
                self._move(self.row + 1, 0)
            row = self.rows[self.row]
            row.extend(" " * (self.col + 1 - len(row)))
            row[self.col] = char
            self.col += 1

    def _csi(self, params: str, final: str) -> None:
        n = int(params) if params.isdigit() else 0
        if final in "ABCD":
            step = max(n, 1)
            moves = {"A": (-step, 0), "B": (step, 0), "C": (0, step), "D": (0, -step)}
            down, right = moves[final]
            self._move(max(0, self.row + down), max(0, self.col + right))
        elif final == "H":
            self._move(0, 0)
        elif final == "K":
            row = self.rows[self.row]
            self.rows[self.row] = [] if n == 2 else [" "] * min(self.col, len(row)) if n == 1 else row[: self.col]
        elif final == "J":
            del self.rows[self.row + 1 :]
            self.rows[self.row] = self.rows[self.row][: self.col]
            if n == 2:
                self.rows, self.row, self.col = [[]], 0, 0

    def _move(self, row: int, col: int) -> None:
        self.rows.extend([] for _ in range(row + 1 - len(self.rows)))
        self.row, self.col = row, col


class Session:
    """`deputy chat` (or another command: `up` opens the console too) at a pseudo-terminal of COLUMNS columns,
    TERM=xterm."""

    def __init__(self, env: dict[str, str], cwd: Path, command: str = "chat") -> None:
        leader, follower = pty.openpty()
        fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 40, COLUMNS, 0, 0))
        self.process = subprocess.Popen(
            [sys.executable, "-m", "bot.cli", command],
            env={**env, "TERM": "xterm"},
            cwd=cwd,
            stdin=follower,
            stdout=follower,
            stderr=follower,
            start_new_session=True,
        )
        os.close(follower)
        self.fd = leader
        self.output = ""
        self.decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")

    def read_until(self, needle: str, *, count: int = 1, timeout: float = 20) -> str:
        """Everything shown so far, once `needle` has been shown `count` times."""
        deadline = time.monotonic() + timeout
        while self.output.count(needle) < count:
            assert time.monotonic() < deadline, f"never saw {needle!r} ×{count} in:\n{self.output}"
            self._read(0.2)
        return self.output

    def shows(self, row: str, *, timeout: float = 20) -> list[str]:
        """The screen, once one of its rows reads `row` (readline may draw a line in pieces)."""
        deadline = time.monotonic() + timeout
        while row not in (screen := self.screen):
            assert time.monotonic() < deadline, f"the screen never showed {row!r}:\n" + "\n".join(screen)
            self._read(0.2)
        return screen

    def read_more(self, seconds: float) -> str:
        """Whatever else arrives within `seconds`: for checking that nothing extra was drawn."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            self._read(max(0.0, deadline - time.monotonic()))
        return self.output

    def type(self, keys: bytes) -> None:
        os.write(self.fd, keys)

    @property
    def screen(self) -> list[str]:
        return Vt100.showing(self.output)

    def wait(self, timeout: float = 10) -> int:
        code = self.process.wait(timeout)
        self.read_more(0.1)
        return code

    def close(self) -> None:
        """Stopped the way a service manager stops it (SIGTERM: `deputy up` stops its worker, then its Redis), and
        killed only if that hangs: a SIGKILL'd `up` would leave its worker behind."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        os.close(self.fd)

    def _read(self, timeout: float) -> None:
        if select.select([self.fd], [], [], timeout)[0]:
            try:
                self.output += self.decoder.decode(os.read(self.fd, 65536))
            except OSError:  # the process has gone and the terminal with it
                time.sleep(timeout)
