"""`deputy shadow`'s progress line: in place on a terminal's stderr, nothing when stderr is piped."""

from __future__ import annotations

import io

import pytest

from bot.shadow import progress_line


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_a_terminal_sees_the_count_in_place_and_then_a_clean_line(monkeypatch: pytest.MonkeyPatch) -> None:
    screen = Terminal()
    monkeypatch.setattr("sys.stderr", screen)
    with progress_line() as progress:
        assert progress is not None
        progress(0, 2)
        progress(1, 2)
    assert screen.getvalue() == ("\r\x1b[Kshadow: 0/2 requests drafted\r\x1b[Kshadow: 1/2 requests drafted\r\x1b[K")


def test_a_pipe_sees_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    piped = io.StringIO()
    monkeypatch.setattr("sys.stderr", piped)
    with progress_line() as progress:
        assert progress is None
    assert piped.getvalue() == ""
