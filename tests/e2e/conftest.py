"""Fixtures the end-to-end tests share."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.procs import RestartableRedis


@pytest.fixture
def restartable(tmp_path: Path) -> Iterator[RestartableRedis]:
    """A redis-server of the test's own, to kill, fill and start again."""
    (tmp_path / "redis").mkdir()
    server = RestartableRedis(tmp_path / "redis")
    server.start()
    yield server
    server.stop()
