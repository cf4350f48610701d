"""What the rest of Deputy knows about a kind of action, declared once by its connector (`connectors/<name>.py`):
the digest, the minutes saved, the policy file and the cards read these, so none of them names a kind. Plain data,
handed to whoever needs it by the composition root; nothing here imports a connector."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class Traits:
    kind: str
    outward: bool = False
    """It leaves Deputy (an email, a webhook post): the digest lists each one under Done and counts it as sent;
    the rest (notes, budget raises) it only counts."""
    undoable: bool = True
    """It may wait out DEPUTY_UNDO_SECONDS with an Undo button before it runs, if policies.yaml lists it."""
    minutes_saved: float = 0.0
    """A person's minutes one applied action saves (half when it was changed first), unless policies.yaml's
    `minutes_saved:` says otherwise."""
    noun: str = "action"
    done: str = "done"
    """How the digest counts what was applied of a kind that stays inside Deputy: "3 notes saved"."""

    def counted(self, n: int) -> str:
        """`1 note saved`, `3 notes saved`."""
        return f"{n} {self.noun}{'s' if n != 1 else ''} {self.done}"


@dataclass(frozen=True)
class Preview:
    """An action in words, as a card shows it: the summary line (with the target in it), the target on its own,
    and the draft the card quotes, if the kind has one (an email's subject and body, a note's text)."""

    summary: str
    target: str
    subject: str = ""
    body: str = ""
    grant: str = ""
    """What an **Always allow** on its card would allow for good (an MCP tool, `server/tool`); '' for a kind
    that has no standing grants."""


@dataclass(frozen=True)
class Check:
    """One line of `deputy doctor`: what was checked, whether it is fine, and what to do if not. A connector
    contributes its own (`doctor(values)`); `info` marks a line that is neither fine nor to fix."""

    name: str
    ok: bool
    detail: str
    info: bool = False

    def line(self) -> str:
        mark = "--" if self.info else ("ok" if self.ok else "FIX")
        return f"{mark:<4}{self.name}: {self.detail}"


def minutes_saved(kinds: Iterable[Traits]) -> dict[str, float]:
    """The default minutes per kind, for the kinds that save any."""
    return {t.kind: t.minutes_saved for t in kinds if t.minutes_saved}


def outward(kinds: Mapping[str, Traits], kind: str) -> bool:
    """An unknown kind (its connector since removed) is counted, not listed: the digest never guesses it was sent."""
    return kind in kinds and kinds[kind].outward
