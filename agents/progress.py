"""What a running task is doing, said on its own progress message as it happens: the step, the model and the
time since the task started ("Drafting with gemma · 14 s"), and a retry when there is one ("Model server not
answering, trying again (2/6)"). The message is edited in place (core.show: every channel), at most once every
`PACE_S` per task — well inside what Slack (about one `chat.update` a second) and Telegram (about one edit a second
per chat) allow, with several tasks in one chat — and the console redraws its one progress line.

The job sets the task's reporter for the draft it runs (`reporting`); the runner and the model port say what
happens through `current()`, which is silent outside a job."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextvars import ContextVar

PACE_S = 3.0
"""The least time between two edits of one task's message."""

STEPS = {
    "classify": "Choosing a playbook",
    "draft": "Drafting",
    "repair": "Correcting the draft",
    "verify": "Checking the draft",
    "revise": "Revising",
}


class Progress:
    def __init__(self, show: Callable[[str], Awaitable[None]], *, clock: Callable[[], float] = time.monotonic) -> None:
        self.show, self.clock = show, clock
        self.started = self.last_shown = clock()
        self.step_text, self.note_text, self.said = "", "", ""

    def line(self) -> str:
        elapsed = f"{self.clock() - self.started:.0f} s"
        head = f"{self.step_text} · {elapsed}" if self.step_text else f"Working · {elapsed}"
        return f"{head} · {self.note_text}" if self.note_text else head

    async def step(self, step: str, model: str) -> None:
        """A new step: said at once (a step changes rarely; the pace applies to the ticking clock)."""
        self.step_text = f"{STEPS.get(step, step.capitalize())} with {_short(model)}"
        self.note_text = ""
        await self._say()

    async def note(self, text: str) -> None:
        self.note_text = text
        await self._say()

    async def tick(self) -> None:
        """The clock moves on the message once a step was said (the built-in model says none: "Drafting…" stays)."""
        if self.step_text and self.clock() - self.last_shown >= PACE_S:
            await self._say()

    async def _say(self) -> None:
        text = self.line()
        if text == self.said:
            return
        self.said, self.last_shown = text, self.clock()
        with contextlib.suppress(Exception):  # progress is best effort: it never fails the task
            await self.show(text)


class Silent(Progress):
    def __init__(self) -> None:
        super().__init__(_nothing)


async def _nothing(text: str) -> None:
    return None


_CURRENT: ContextVar[Progress | None] = ContextVar("deputy_progress", default=None)


def current() -> Progress:
    return _CURRENT.get() or Silent()


@contextlib.asynccontextmanager
async def reporting(progress: Progress) -> AsyncIterator[Progress]:
    """The task's reporter for the work inside, its clock ticking on the message every `PACE_S`."""
    token = _CURRENT.set(progress)
    ticker = asyncio.create_task(_ticking(progress))
    try:
        yield progress
    finally:
        ticker.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await ticker
        _CURRENT.reset(token)


async def _ticking(progress: Progress) -> None:
    while True:
        await asyncio.sleep(PACE_S)
        await progress.tick()


def _short(model: str) -> str:
    """`openai/gemma` → gemma: the name the operator chose, without the route."""
    return model.split("/", 1)[-1]
