"""A paste at the console is one message, and never a decision: the lines of a paste that begin with a word
that decides (/approve, /reject, /undo, …) are held and shown, and run only when the operator answers y. The
other lines go as one request. Piped input is not a paste: one message per line, as before."""

from __future__ import annotations

from dataclasses import dataclass

from bot.console.prompt import Entry
from orchestrator.words import decides

YES = ("y", "yes")
NO = ("", "n", "no")


@dataclass(frozen=True)
class Pasted:
    request: str
    """The lines that decide nothing, as one message ('' when there are none)."""
    decisions: tuple[str, ...]


def split(entry: Entry) -> Pasted:
    lines = [line for line in entry.text.split("\n") if line.strip()]
    deciding = tuple(line for line in lines if decides(line))
    return Pasted("\n".join(line for line in lines if not decides(line)), deciding)


def question(decisions: tuple[str, ...]) -> str:
    listed = "; ".join(decisions)
    them = "it" if len(decisions) == 1 else f"all {len(decisions)}"
    return f"? You pasted {listed} — a paste never decides on its own. Type y to run {them}, anything else to leave it."


def left(decisions: tuple[str, ...]) -> str:
    return f"• Not run: {'; '.join(decisions)}."


@dataclass
class Held:
    """Decisions from a paste, waiting for the operator's y."""

    decisions: tuple[str, ...] = ()

    def answer(self, entry: Entry) -> tuple[tuple[str, ...], bool]:
        """(the decisions to run now, whether the entry was only the answer); the hold ends either way."""
        held, self.decisions = self.decisions, ()
        said = entry.text.strip().lower()
        if not held or entry.pasted:
            return (), False
        if said in YES:
            return held, True
        return (), said in NO
