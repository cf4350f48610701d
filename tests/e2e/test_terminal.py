"""The console as a person uses it: a real pseudo-terminal, typed keys, Ctrl-C."""

from __future__ import annotations

import re
import signal
import termios
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.wiring import Runtime
from tests.conftest import Workers, deputy
from tests.e2e.helpers import proposal_id
from tests.e2e.terminal import Session

UP, LEFT = b"\x1b[A", b"\x1b[D"
PASTE, PASTED = b"\x1b[200~", b"\x1b[201~"
NOTE = "Saved note “plan the launch”"
BANNER = "Deputy console — type a request, or /help. Ctrl-D to leave."
PROGRESS = re.compile(r"^… \[(t\w+)\] ")


@pytest.fixture
def sessions(env: dict[str, str], tmp_path: Path) -> Iterator[list[Session]]:
    """Consoles opened by a test with `open_console`, closed after it."""
    opened: list[Session] = []
    yield opened
    for session in opened:
        session.close()


def open_console(sessions: list[Session], env: dict[str, str], cwd: Path) -> Session:
    session = Session(env, cwd)
    sessions.append(session)
    session.read_until("deputy> ")
    return session


async def submitted(runtime: Runtime) -> list[str]:
    return [e.summary for _, e in await runtime.ledger.read() if e.type == "TaskSubmitted"]


def test_repl_answers_typed_lines_and_stops_on_ctrl_c(
    env: dict[str, str], tmp_path: Path, workers: Workers, sessions: list[Session]
) -> None:
    workers.start()
    chat = open_console(sessions, env, tmp_path)
    chat.type(b"plan the launch\n")
    chat.read_until("Done: Saved note")  # notes are saved by the default rule
    chat.type(b"/status\n")
    chat.read_until("Pending proposals: 0")
    chat.type(b"/help\n")
    shown = chat.read_until("/help                             this list")
    shown = chat.read_more(0.5)[len(shown) - 200 :]
    assert "deputy> deputy>" not in shown.replace("\x1b[K", "").replace("\r", "")  # an instant reply: one prompt
    chat.type(b"half a li")
    chat.shows("deputy> half a li")
    chat.process.send_signal(signal.SIGINT)  # what Ctrl-C delivers; nothing may wait for another Enter
    assert chat.wait() in (0, 130)
    modes = termios.tcgetattr(chat.fd)[3]
    assert modes & termios.ECHO and modes & termios.ICANON  # the terminal is given back as readline found it


async def test_up_arrow_recalls_the_last_line_and_enter_sends_it_again(
    env: dict[str, str], tmp_path: Path, workers: Workers, runtime: Runtime, sessions: list[Session]
) -> None:
    workers.start()
    chat = open_console(sessions, env, tmp_path)
    chat.type(b"plan the launch\n")
    chat.read_until(NOTE)
    chat.type(UP)
    chat.type(b"\n")
    chat.read_until(NOTE, count=2)
    assert await submitted(runtime) == ["plan the launch", "plan the launch"]


async def test_history_survives_a_restart_of_the_console(
    env: dict[str, str], tmp_path: Path, workers: Workers, runtime: Runtime, sessions: list[Session]
) -> None:
    workers.start()
    first = open_console(sessions, env, tmp_path)
    first.type(b"plan the launch\n")  # two lines sent at once would be one paste
    first.read_until(NOTE)
    first.type(b"/status\n")
    first.read_until("Pending proposals: 0")
    first.type(b"\x04")  # Ctrl-D
    assert first.wait() == 0
    assert (Path(env["DEPUTY_DATA_DIR"]) / "console_history").read_text() == "plan the launch\n/status\n"

    second = open_console(sessions, env, tmp_path)
    second.type(UP + UP)
    second.shows("deputy> plan the launch")
    second.type(b"\n")
    second.read_until(NOTE)
    assert await submitted(runtime) == ["plan the launch", "plan the launch"]


async def test_ctrl_l_clears_the_screen_and_is_not_text(
    env: dict[str, str], tmp_path: Path, workers: Workers, runtime: Runtime, sessions: list[Session]
) -> None:
    workers.start()
    chat = open_console(sessions, env, tmp_path)
    chat.type(b"plan the\x0c launch")
    chat.read_until("\x1b[2J")
    assert chat.shows("deputy> plan the launch")[0] == "deputy> plan the launch"  # at the top of a clear screen
    chat.type(b"\n")
    chat.read_until(NOTE)
    assert await submitted(runtime) == ["plan the launch"]


async def test_a_message_arriving_while_typing_keeps_the_typed_line(
    env: dict[str, str], tmp_path: Path, workers: Workers, runtime: Runtime, sessions: list[Session]
) -> None:
    workers.start()
    chat = open_console(sessions, env, tmp_path)
    chat.type(b"plan the aunch" + LEFT * 5)  # the cursor before "aunch"
    chat.read_until("\x08" * 5)
    assert deputy("chat", env=env, cwd=tmp_path, stdin="/status\n").returncode == 0  # its reply shows here too
    chat.read_until("Pending proposals: 0")
    chat.type(b"l")
    chat.read_until("l" + "aunch" + "\x08" * 5)  # readline draws the rest of the line again after the new letter
    screen = chat.screen
    below = screen[screen.index(BANNER) + 1 :]  # what was drawn after the prompt first appeared
    assert below[0] == "(another terminal) deputy> /status"  # where the partly typed line was: drawn again below
    assert below[1] == "• Running tasks: 0"  # the other terminal's reply, after its question
    assert below[-1] == "deputy> plan the launch"
    assert not any("aunch" in row for row in below[:-1])
    chat.type(b"\n")
    chat.read_until(NOTE)
    assert await submitted(runtime) == ["plan the launch"]


def test_progress_is_one_line_that_updates_in_place(
    env: dict[str, str], tmp_path: Path, workers: Workers, sessions: list[Session]
) -> None:
    workers.start()
    chat = open_console(sessions, env, tmp_path)
    chat.type(b"plan the launch\n")
    chat.read_until(NOTE)
    progress = [row for row in chat.screen if PROGRESS.match(row)]
    assert len(progress) == 1 and progress[0].endswith("Drafting…"), chat.screen
    assert "On it…" in chat.output  # it was shown, then replaced


async def test_without_readline_escape_sequences_and_controls_are_not_task_text(
    env: dict[str, str], tmp_path: Path, workers: Workers, runtime: Runtime, sessions: list[Session]
) -> None:
    shim = tmp_path / "no-readline"
    shim.mkdir()
    (shim / "readline.py").write_text('raise ImportError("no readline here")\n')
    env = {**env, "PYTHONPATH": f"{shim}:{env['PYTHONPATH']}"}
    workers.start()
    chat = open_console(sessions, env, tmp_path)
    chat.type(UP + b"\n")  # the terminal's line discipline passes the arrow's escape sequence on as the line
    chat.type(b"plan" + LEFT + b" the \x0claunch\x1bOA\n")
    chat.read_until(NOTE)
    chat.type(b"/status\n")
    chat.read_until("Pending proposals: 0")
    assert await submitted(runtime) == ["plan the launch"]


async def statuses(runtime: Runtime, pid: str) -> list[str]:
    return [e.type for _, e in await runtime.ledger.read() if e.type.startswith("Proposal") and e.proposal_id == pid]


async def test_a_paste_is_one_request_and_its_decision_lines_wait_for_a_yes(
    env: dict[str, str], tmp_path: Path, workers: Workers, runtime: Runtime, sessions: list[Session]
) -> None:
    workers.start()
    chat = open_console(sessions, env, tmp_path)
    chat.type(b"email bob@example.org about the contract\n")
    pid = proposal_id(chat.read_until("/reject p"))
    note = f"Here is the customer note:\n/reject {pid[:4]} from a paste\nthanks\n".encode()
    chat.type(PASTE + note + PASTED)
    chat.type(b"\n")  # readline holds a bracketed paste until Enter
    shown = chat.read_until("a paste never decides")
    assert f"You pasted /reject {pid[:4]} from a paste" in shown
    chat.read_until("Done: Saved note", count=1)
    assert await submitted(runtime) == ["email bob@example.org about the contract", "Here is the customer note: thanks"]
    chat.type(b"n\n")
    chat.read_until("Not run: /reject")
    assert await statuses(runtime, pid) == ["ProposalStaged"]

    chat.type(PASTE + f"/approve {pid}\n".encode() + PASTED + b"\n")  # a paste of an approval alone asks first
    chat.read_until(f"You pasted /approve {pid}")
    assert await statuses(runtime, pid) == ["ProposalStaged"]
    chat.type(b"y\n")
    chat.read_until("Done: Sent to bob@example.org")
    assert "ProposalApproved" in await statuses(runtime, pid)


async def test_a_burst_of_lines_without_bracketed_paste_is_one_request(
    env: dict[str, str], tmp_path: Path, workers: Workers, runtime: Runtime, sessions: list[Session]
) -> None:
    workers.start()
    chat = open_console(sessions, env, tmp_path)
    chat.type(b"plan the launch\nline two of the paste\n/undo p123 too\n")  # one write, as a paste arrives
    chat.read_until("You pasted /undo p123 too")
    chat.read_until("Done: Saved note")
    assert await submitted(runtime) == ["plan the launch line two of the paste"]
