"""Shared pieces of the benchmarks: a real redis-server, an SMTP sink, percentiles, worker processes."""

from __future__ import annotations

import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

from memory.embedded import config_text, executable, free_port, ping

ROOT = Path(__file__).resolve().parent.parent


def start_redis() -> tuple[subprocess.Popen[bytes], str]:
    """The same configuration `deputy up` uses (AOF, appendfsync always), in a temporary directory."""
    directory = Path(tempfile.mkdtemp(prefix="deputy-bench-"))
    port = free_port()
    conf = directory / "redis.conf"
    conf.write_text(config_text(directory, port))
    process = subprocess.Popen([executable(), str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"redis://127.0.0.1:{port}/0"
    wait(lambda: ping(url), 10)
    return process, url


def wait(predicate: Callable[[], Any], timeout: float, poll: float = 0.001) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError("benchmark step timed out")
        time.sleep(poll)


def start_process(args: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        args, env=env, cwd=ROOT, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )


def stop(processes: list[subprocess.Popen[bytes]]) -> None:
    """In the reverse of the order they started: Redis (started first) goes last, so a server that stops does
    not spend its shutdown retrying a Redis that went away under it."""
    for process in reversed(processes):
        if process.poll() is None:
            try:
                os.killpg(process.pid, signal.SIGTERM)
            except ProcessLookupError:  # not a group leader (e.g. redis-server): stop it alone
                process.terminate()
        process.wait(20)


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


def summary(values: list[float]) -> str:
    return f"p50 {ms(pct(values, 50))}, p95 {ms(pct(values, 95))}, mean {ms(statistics.fmean(values))}"


def ready(port: int) -> bool:
    """`deputy serve` on `port` answers /readyz with 200."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=1) as response:
            return bool(response.status == 200)
    except (OSError, urllib.error.HTTPError):
        return False


def python() -> str:
    return sys.executable
