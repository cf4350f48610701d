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

import pydantic_core

from orchestrator.ending import end

PACE_S = 3.0
"""The least time between two edits of one task's message for the clock alone."""
STREAM_PACE_S = 1.5
"""… and while the draft streams in: about what Slack's `chat.update` and Telegram's edits allow for one message."""
SHOWN_CHARS = 80
STREAMED = frozenset({"draft", "revise", "repair"})
"""The steps whose answer is a draft the operator can watch grow."""

STEPS = {
    "classify": "Choosing a playbook",
    "draft": "Drafting",
    "repair": "Correcting the draft",
    "verify": "Checking the draft",
    "revise": "Revising",
}


class Progress:
    def __init__(
        self,
        show: Callable[[str], Awaitable[None]],
        *,
        clock: Callable[[], float] = time.monotonic,
        record: Callable[[str], Awaitable[None]] | None = None,
    ) -> None:
        self.show, self.clock, self.record = show, clock, record
        """`record`: told each new step (and note), for /status."""
        self.started = self.last_shown = clock()
        self.step_text, self.note_text, self.said, self.body = "", "", "", ""

    def line(self) -> str:
        elapsed = f"{self.clock() - self.started:.0f} s"
        head = f"{self.step_text} · {elapsed}" if self.step_text else f"Working · {elapsed}"
        if self.body:  # one line (the console redraws it in place): the end of what the model has written so far
            tail = " ".join(self.body.split())[-SHOWN_CHARS:]
            return f"{head} · “…{tail}”"
        return f"{head} · {self.note_text}" if self.note_text else head

    async def step(self, step: str, model: str) -> None:
        """A new step: said at once (a step changes rarely; the pace applies to the ticking clock)."""
        self.step_text = f"{STEPS.get(step, step.capitalize())} with {_short(model)}"
        self.note_text, self.body = "", ""
        await self._record()
        await self._say()

    def listener(self, step: str) -> Callable[[str], Awaitable[None]] | None:
        """Where a streamed answer's text goes for this step (None: don't stream)."""
        return self.streamed if step in STREAMED else None

    async def streamed(self, text: str) -> None:
        """The answer so far, the text being written shown as it grows: the first at once, then at the streaming
        pace. The partial JSON is parsed only when it may be shown: it grows by a token a chunk, and parsing all of
        it each time would cost time quadratic in the answer's length."""
        if self.body and self.clock() - self.last_shown < STREAM_PACE_S:
            return
        body = _writing(text)
        if not body:
            return
        first, self.body = not self.body, body
        if first or self.clock() - self.last_shown >= STREAM_PACE_S:
            await self._say()

    async def note(self, text: str) -> None:
        """A retry: said at once, and the answer starts over (what the dropped attempt had written goes)."""
        self.note_text, self.body = text, ""
        await self._record()
        await self._say()

    async def _record(self) -> None:
        if self.record is not None:
            head = f"{self.step_text} · {self.note_text}" if self.note_text else self.step_text
            with contextlib.suppress(Exception):  # best effort, as the message is
                await self.record(head or "Working")

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

    def listener(self, step: str) -> Callable[[str], Awaitable[None]] | None:
        return None


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
        await end(ticker)  # a lost cancel would keep the job waiting on its ticker until RQ's job timeout
        _CURRENT.reset(token)


async def _ticking(progress: Progress) -> None:
    while True:
        await asyncio.sleep(PACE_S)
        await progress.tick()


def _writing(partial: str) -> str:
    """The text the model is writing now: the last string in its JSON answer so far (pydantic reads JSON cut
    anywhere) — a draft's body once it gets there."""
    try:
        value = pydantic_core.from_json(partial, allow_partial="trailing-strings")
    except ValueError:
        return ""
    texts = _strings(value)
    return texts[-1] if texts else ""


def _strings(value: object) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for v in value.values() for s in _strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return []


def _short(model: str) -> str:
    """`openai/gemma` → gemma: the name the operator chose, without the route."""
    return model.split("/", 1)[-1]
