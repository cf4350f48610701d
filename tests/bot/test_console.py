"""The console's parts without a terminal: cleaning typed lines, what settles a piped line, where text lands."""

from __future__ import annotations

import contextlib
import io
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime

import pytest

from bot.console.channel import Replies
from bot.console.outbound import settles
from bot.console.prompt import PROMPT, PromptState, clean
from bot.console.screen import Screen
from bot.wiring import Runtime
from orchestrator.model import Proposal, ProposalStatus
from orchestrator.outbound import Kind, Outbound
from tests.bot.cards import proposal as a_proposal
from tests.e2e.terminal import COLUMNS, Vt100


@pytest.mark.parametrize(
    ("typed", "text"),
    [
        ("\x1b[Aplan the launch", "plan the launch"),  # Up arrow without readline
        ("plan\x1b[D\x1b[D the launch\x1b[1;5C", "plan the launch"),  # arrows, Ctrl+Right
        ("\x1bOAplan the launch\x1bOB", "plan the launch"),  # arrows in application mode (SS3)
        ("plan\x0c the launch\r", "plan the launch"),  # Ctrl-L, a stray CR
        ("\x1b]0;title\x07plan the \x1b]8;;http://x\x1b\\launch", "plan the launch"),  # OSC to BEL and to ST
        ("plan \x9b2Jthe\x85 launch\x7f", "plan the launch"),  # C1 CSI, NEL, DEL
        ("plan\x1bb the launch\x1b", "plan the launch"),  # Alt+b, a lone ESC at the end
        ("\x00\x07\x08plan\tthe launch", "plan\tthe launch"),  # tab is text
        ("email zoë@acme.com about the 🚀 launch", "email zoë@acme.com about the 🚀 launch"),
        ("\x1b[A\x1b[B", ""),
    ],
)
def test_clean_leaves_only_text(typed: str, text: str) -> None:
    assert clean(typed) == text


def held_proposal() -> Proposal:
    proposal = a_proposal()
    proposal.status, proposal.hold_until = ProposalStatus.APPROVED, datetime(2026, 1, 1, tzinfo=UTC)
    return proposal


def test_a_final_reply_or_an_approval_held_for_undo_settles_its_line() -> None:
    approved = a_proposal()
    approved.status = ProposalStatus.APPROVED
    message = Outbound(kind=Kind.OUTCOME, text="Approved", reply_to="e1")
    assert settles(replace(message, final=True))
    assert settles(replace(message, proposal=held_proposal()))
    assert not settles(replace(message, proposal=approved))  # applying now: the outcome is the reply
    assert not settles(Outbound(kind=Kind.PROGRESS, text="Drafting…", reply_to="e1"))


def entry(
    *, reply_to: str = "", final: bool = False, settles: bool | None = None, proposal: str = ""
) -> dict[str, str]:
    fields = {"reply_to": reply_to, "final": "1" if final else "0", "proposal": proposal, "text": "…"}
    return fields if settles is None else {**fields, "settles": "1" if settles else "0"}


def test_an_approval_held_for_undo_settles_the_line_and_its_outcome_is_still_awaited() -> None:
    replies = Replies()
    replies.expect("approve")
    replies.saw(entry(reply_to="approve", settles=False))
    assert not replies.replied()
    replies.saw(entry(reply_to="approve", settles=True, proposal="p1"))  # "sending in 20 s. /undo p1 to cancel."
    assert replies.replied() and not replies.quiet()
    replies.expect("undo")
    replies.saw(entry(reply_to="undo", final=True, settles=True, proposal="p1"))  # "Undone: p1 …"
    assert replies.quiet()


def test_the_outcome_after_the_window_ends_the_wait() -> None:
    replies = Replies()
    replies.expect("approve")
    replies.saw(entry(reply_to="approve", settles=True, proposal="p1"))
    replies.saw(entry(reply_to="other", final=True, settles=True, proposal="p2"))
    assert replies.waiting() == 1
    replies.saw(entry(reply_to="approve", final=True, settles=True, proposal="p1"))  # "Done: Sent to …"
    assert replies.quiet()


def test_entries_written_before_settles_existed_settle_on_final() -> None:
    replies = Replies()
    replies.expect("e1")
    replies.saw(entry(reply_to="e1", proposal="p1"))
    assert not replies.replied()
    replies.saw(entry(reply_to="e1", final=True, proposal="p1"))
    assert replies.quiet()


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


class Typing:
    """A prompt with `typed` on it; `enter()` is the operator pressing Enter."""

    def __init__(self, out: io.StringIO, typed: str | None = "") -> None:
        self.out, self.typed, self.entered = out, typed, 0

    @contextlib.contextmanager
    def hold(self) -> Iterator[PromptState]:
        yield PromptState(self.typed, self.entered)

    def redraw(self) -> None:
        self.out.write(PROMPT + (self.typed or ""))

    def enter(self) -> None:
        self.out.write("\n")
        self.entered += 1


@pytest.fixture
def terminal(monkeypatch: pytest.MonkeyPatch) -> Terminal:
    monkeypatch.setenv("COLUMNS", str(COLUMNS))
    return Terminal()


def at_prompt(out: io.StringIO, typed: str = "") -> tuple[Screen, Typing]:
    screen, prompt = Screen(out), Typing(out, typed)
    screen.prompt = prompt
    out.write(PROMPT + typed)
    return screen, prompt


def test_progress_replaces_the_tasks_last_line_above_the_prompt(terminal: Terminal) -> None:
    screen, _ = at_prompt(terminal, "send the")
    screen.show("… [t1] On it…", progress_of="t1")
    screen.show("… [t1] Drafting…", progress_of="t1")
    assert Vt100.showing(terminal.getvalue()) == ["… [t1] Drafting…", "deputy> send the"]


def test_progress_after_anything_else_is_a_new_line(terminal: Terminal) -> None:
    screen, prompt = at_prompt(terminal)
    screen.show("… [t1] On it…", progress_of="t1")
    screen.show("… [t2] On it…", progress_of="t2")
    screen.show("… [t1] Drafting…", progress_of="t1")
    prompt.enter()
    screen.show("… [t1] Checking…", progress_of="t1")
    screen.show("• Remembered m1", progress_of=None)
    screen.show("… [t1] Sending…", progress_of="t1")
    assert Vt100.showing(terminal.getvalue()) == [
        "… [t1] On it…",
        "… [t2] On it…",
        "… [t1] Drafting…",
        "deputy>",
        "… [t1] Checking…",
        "• Remembered m1",
        "… [t1] Sending…",
        "deputy>",
    ]


def test_without_a_prompt_progress_still_updates_in_place(terminal: Terminal) -> None:
    screen = Screen(terminal)
    screen.show("deputy> plan the launch")
    screen.show("… [t1] On it…", progress_of="t1")
    screen.show("… [t1] Drafting…", progress_of="t1")
    assert Vt100.showing(terminal.getvalue()) == ["deputy> plan the launch", "… [t1] Drafting…", ""]


def test_a_line_that_wraps_is_not_replaced(terminal: Terminal) -> None:
    screen, _ = at_prompt(terminal, "x" * COLUMNS)
    screen.show("… [t1] On it…", progress_of="t1")
    screen.show("… [t1] Drafting…", progress_of="t1")
    assert "… [t1] On it…" in Vt100.showing(terminal.getvalue())


def test_output_that_is_not_a_terminal_gets_plain_lines() -> None:
    out = io.StringIO()
    screen = Screen(out)
    screen.show("… [t1] On it…", progress_of="t1")
    screen.show("… [t1] Drafting…", progress_of="t1")
    assert out.getvalue() == "… [t1] On it…\n… [t1] Drafting…\n"


def test_escape_sequences_in_a_message_do_not_reach_the_terminal() -> None:
    out = io.StringIO()
    Screen(out).show("│ subject: Hi\x1b]52;c;ZXZpbA==\x07\n│   Jane,\x1b[2A\x1b[2K\r approved\tby you")
    assert out.getvalue() == "│ subject: Hi\n│   Jane, approved\tby you\n"


async def test_a_terminal_console_shows_what_came_while_none_was_open(runtime: Runtime) -> None:
    """Issue 29 (#23): a task drafted after a restart posts its card before the console opens; the console shows it
    (not the progress lines of that time), then only what is new; a piped console starts at the end."""
    from bot.console.channel import Console
    from memory import keys

    stream, out = keys.console("local"), io.StringIO()
    first = Console(runtime.redis, runtime.coordinator, out=out)
    await first.start(resume=True)  # the last console: it saw everything so far
    for kind, text in [("progress", "… [t1] Drafting…"), ("card", "┌ Proposal p1 · the plan"), ("outcome", "✓ Done")]:
        await runtime.redis.xadd(stream, {"kind": kind, "text": text, "task": "t1"})
    piped = Console(runtime.redis, runtime.coordinator, out=io.StringIO())
    await piped.start()
    assert piped.out.getvalue() == ""  # type: ignore[attr-defined]
    again = Console(runtime.redis, runtime.coordinator, out=out)
    await again.start(resume=True)
    assert out.getvalue().splitlines() == ["While no console was open:", "┌ Proposal p1 · the plan", "✓ Done"]
    await Console(runtime.redis, runtime.coordinator, out=out).start(resume=True)
    assert out.getvalue().count("┌ Proposal p1") == 1  # shown once
