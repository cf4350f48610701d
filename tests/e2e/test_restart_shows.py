"""Issue 29 (#23): a request still drafting when Deputy is stopped is drafted after the restart — and its card is
shown at the console that opens then, not only its Done line."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from memory.embedded import free_port
from tests.e2e.terminal import Session

ASK = "plan the team offsite"


@pytest.fixture
def up_env(env: dict[str, str]) -> Iterator[dict[str, str]]:
    embedded = {k: v for k, v in env.items() if k != "REDIS_URL"}
    yield {**embedded, "DEPUTY_PORT": str(free_port()), "DEPUTY_OFFLINE_LATENCY_MS": "3000", "DEPUTY_LOG_LEVEL": ""}


@pytest.mark.soak  # two starts of deputy up and a drafting delay
def test_the_card_of_a_request_drafted_after_a_restart_is_shown(up_env: dict[str, str], tmp_path: Path) -> None:
    first = Session(up_env, tmp_path, command="up")
    try:
        first.read_until("deputy> ", timeout=60)
        first.type(f"{ASK}\n".encode())
        first.read_until("Drafting")
        first.process.send_signal(signal.SIGINT)
        assert first.wait(60) == 0
    finally:
        first.close()
    again = Session(up_env, tmp_path, command="up")
    try:
        shown = again.read_until("Done: Saved note", timeout=90)
        assert f"Plan for: {ASK}" in shown, shown
    finally:
        again.close()
