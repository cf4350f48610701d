"""Real processes in tests: a process's children, whether one is alive, a kill -9, and a redis-server a test
can kill, fill and start again where it was."""

from __future__ import annotations

import os
import resource
import signal
import subprocess
from pathlib import Path

from memory.embedded import config_text, executable, free_port, ping
from tests.conftest import wait_for


def children(pid: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def command_line(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


class RestartableRedis:
    """A redis-server with Deputy's embedded configuration (AOF, appendfsync always, its log in the data dir)
    that a test can kill -9 and start again on the same port and data dir, optionally on a tiny "disk"."""

    def __init__(self, directory: Path) -> None:
        self.directory, self.port = directory, free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, *, file_limit: int = 0) -> None:
        """`file_limit`: no file of its may grow past this many bytes, as on a full disk."""

        def limit() -> None:
            if file_limit:
                signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
                resource.setrlimit(resource.RLIMIT_FSIZE, (file_limit, file_limit))

        conf = self.directory / "redis.conf"
        conf.write_text(config_text(self.directory, self.port))
        self.process = subprocess.Popen([executable(), str(conf)], stdout=subprocess.DEVNULL, preexec_fn=limit)
        wait_for(lambda: ping(self.url), 15, "redis-server to start")

    def kill(self) -> None:
        assert self.process is not None
        self.process.kill()
        self.process.wait(10)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(10)
