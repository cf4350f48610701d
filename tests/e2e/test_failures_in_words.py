"""`deputy up` at a terminal, a webhook that never answers: the console shows sentences, never a log line or a
traceback (those go to deputy.log in the data dir), and the last one says the word that tries again."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from memory.embedded import free_port
from tests.conftest import wait_for
from tests.e2e.helpers import proposal_id
from tests.e2e.terminal import Session

LOG_LINE = re.compile(r"\b(DEBUG|INFO|WARNING|ERROR|CRITICAL)\b|Traceback|\{\"at\"")


@pytest.fixture
def console_up(env: dict[str, str], tmp_path: Path) -> Iterator[tuple[Session, Path]]:
    embedded = {k: v for k, v in env.items() if k != "REDIS_URL"}
    hooks = {"DEPUTY_WEBHOOKS": "broken=http://127.0.0.1:1/x", "DEPUTY_LOG_LEVEL": "", "DEPUTY_JOB_RETRY_S": "1,1,1"}
    session = Session({**embedded, **hooks, "DEPUTY_PORT": str(free_port())}, tmp_path, command="up")
    yield session, Path(env["DEPUTY_DATA_DIR"]) / "deputy.log"
    session.close()


def approve_the_broken_post(session: Session) -> str:
    session.read_until("deputy> ", timeout=60)
    session.type(b"post order 77 shipped to broken\n")
    pid = proposal_id(session.read_until("/reject p"))
    session.type(f"/approve {pid}\n".encode())
    return pid


def test_a_failing_attempt_goes_to_the_log_file_not_the_console(console_up: tuple[Session, Path]) -> None:
    session, log = console_up
    approve_the_broken_post(session)
    wait_for(lambda: log.exists() and "retries left" in log.read_text(), 30, "the first failed attempt in the log")
    shown = session.read_more(0.5)
    assert f"Deputy's log: {log}" in shown
    assert not LOG_LINE.search(shown), shown


@pytest.mark.soak  # the retries wait 1 + 1 + 1 s (DEPUTY_JOB_RETRY_S)
def test_the_last_failure_is_one_sentence_with_the_word_that_tries_again(console_up: tuple[Session, Path]) -> None:
    session, log = console_up
    pid = approve_the_broken_post(session)
    shown = session.read_until(f"/retry {pid}", timeout=90)
    assert not LOG_LINE.search(shown), shown
    attempts = re.findall(r"Not done yet: [^\r\n]*", shown)
    assert 1 <= len(attempts) <= 4 and all(a.endswith("Deputy will try again shortly.") for a in attempts), shown
    [failed] = re.findall(r"✗ Task \w+ failed: [^\r\n]*", shown)  # one line (the terminal may wrap it)
    assert "Error" not in failed and failed.endswith(f"type /retry {pid} to try again."), failed
    assert "Traceback" in log.read_text()  # the details are kept, where they belong
