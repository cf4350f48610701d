"""`deputy --help`, a word's `--help` and bad usage answer from the standard library alone: each imports nothing
of redis, pydantic(-settings), asyncio or litellm, which would double their start (issue 30)."""

from __future__ import annotations

import subprocess
import sys

import pytest

HEAVY = ("redis", "pydantic", "pydantic_settings", "litellm", "asyncio", "aiohttp", "rq")
PROBE = """
import sys
from bot.cli import main
try:
    main(sys.argv[1:])
except SystemExit:
    pass
heavy = sorted({m.split(".")[0] for m in sys.modules} & set(sys.argv[0].split(",")))
print(",".join(heavy), file=sys.__stdout__)
"""


@pytest.mark.parametrize("argv", [["--help"], ["worker", "--help"], ["ledger", "--help"], ["no-such-word"]])
def test_help_and_bad_usage_import_nothing_heavy(argv: list[str]) -> None:
    result = subprocess.run(
        [sys.executable, "-c", PROBE.replace("sys.argv[0]", repr(",".join(HEAVY))), *argv],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.stdout.splitlines()[-1] == "", result.stdout
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("module", ["bot.worker", "bot.scheduler", "bot.ops"])
def test_processes_that_serve_nothing_import_no_http_client_until_they_call_out(module: str) -> None:
    """A worker with the offline model, the scheduler, `deputy ledger`: aiohttp (0.1 s, and SSL contexts made at
    its import) comes with the first model call or post that needs it, not with the process."""
    probe = f"import sys, {module}; print(sorted(m for m in ('aiohttp', 'litellm') if m in sys.modules))"
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60)
    assert result.stdout.strip() == "[]", result.stdout + result.stderr
