"""Where console messages land: above the prompt, which is drawn again with what the operator had typed, and at a
terminal a task's progress on one line that updates in place. Output that is not a terminal stays plain lines."""

from __future__ import annotations

import shutil
from typing import TextIO

from bot.console.prompt import NO_PROMPT, PROMPT, Prompt, PromptState, clean

CLEAR_LINE = "\r\x1b[K"
UP = "\x1b[A"


class Screen:
    def __init__(self, out: TextIO) -> None:
        self.out = out
        self.tty = out.isatty()
        self.prompt: Prompt = NO_PROMPT
        self.progress: tuple[str, int] | None = None
        """The task whose progress line was the last thing printed, and how many lines had been entered then."""

    def show(self, text: str, *, progress_of: str | None = None) -> None:
        text = printable(text)
        with self.prompt.hold() as state:
            shown = state.typed is not None
            replace = self._replaces(progress_of, state)
            self.out.write(_erase(shown=shown, replace=replace) + text + "\n")
            self.out.flush()
            if shown:
                self.prompt.redraw()
        self.progress = (progress_of, state.entered) if progress_of and self.tty and _one_row(text) else None

    def _replaces(self, progress_of: str | None, state: PromptState) -> bool:
        """Only what can be found again: the same task's single-row line, right above a single-row prompt."""
        if progress_of is None or self.progress != (progress_of, state.entered):
            return False
        return state.typed is None or _one_row(PROMPT + state.typed)


def printable(text: str) -> str:
    """Text as the terminal may show it: a drafted email or a webhook's body can carry escape sequences that would
    move the cursor over other lines, retitle the window or write to the clipboard."""
    return "\n".join(clean(line) for line in text.split("\n"))


def _erase(*, shown: bool, replace: bool) -> str:
    """From the cursor (on the prompt's row when it is shown, else at the start of an empty row): clear the prompt,
    then the progress line above it when it is to be replaced."""
    if shown:
        return CLEAR_LINE + (UP + CLEAR_LINE if replace else "")
    return UP + CLEAR_LINE if replace else ""


def _one_row(text: str) -> bool:
    return "\n" not in text and len(text) < shutil.get_terminal_size().columns
