"""`deputy chat`: the console channel. At a terminal it is a REPL (line editing and history with readline; a
paste is one message and never decides on its own, see paste.py); with piped input it sends one message per
line, waits for each one's reply for now (an approval held in its undo window is one: the script may /undo it
next), then for the outcomes still coming (60 s in all at most), and exits 0. Replies come back through the
console's Redis Stream, the same way a worker in another process sends them."""

from __future__ import annotations

import asyncio
import contextlib
import getpass
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import TextIO

from redis.asyncio import Redis
from redis.exceptions import RedisError

from bot.console.outbound import MAXLEN
from bot.console.paste import Held, left, question, split
from bot.console.prompt import NO_PROMPT, PROMPT, QUIT, Entry, clean, default_history, open_reader
from bot.console.screen import Screen
from memory import codec, keys
from memory.streams import newest_after, newest_id, read_after
from orchestrator.commands import Inbound
from orchestrator.coordinator import Coordinator
from orchestrator.model import Actor, ChatRef
from orchestrator.outbound import Kind

CHAT = ChatRef("console", "local")
ASKED = "asked"
"""A stream entry that is a question typed at one console, not a reply."""
OTHER = "(another terminal) "
PIPED_WAIT_S = 60.0
LISTEN_BLOCK_MS = 200
MISSED = 20
"""A terminal console shows at most this many messages that came while no console was open."""


def console_actor() -> Actor:
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "operator"
    return Actor("console", user, "you")


class Replies:
    """What piped input waits for. A line is settled by a reply that ends its wait (`settles`; entries written before
    that field existed have `final` only); an approval held in its undo window settles its line while the outcome
    is still coming, and a final message about that proposal (sent, failed, undone) is the outcome."""

    def __init__(self) -> None:
        self.awaiting: set[str] = set()
        """Inbound events sent from here whose reply for now has not arrived."""
        self.outcomes: set[str] = set()
        """Proposals whose approval settled a line while their outcome is still coming."""
        self.changed = asyncio.Event()

    def expect(self, event_id: str) -> None:
        self.awaiting.add(event_id)

    def saw(self, fields: dict[str, str]) -> None:
        final, proposal = fields.get("final") == "1", fields.get("proposal", "")
        if final:
            self.outcomes.discard(proposal)
        reply_to = fields.get("reply_to", "")
        if reply_to in self.awaiting and fields.get("settles", fields.get("final")) == "1":
            self.awaiting.discard(reply_to)
            if not final and proposal:
                self.outcomes.add(proposal)
        self.changed.set()

    def replied(self) -> bool:
        return not self.awaiting

    def quiet(self) -> bool:
        return not self.awaiting and not self.outcomes

    def waiting(self) -> int:
        return len(self.awaiting) + len(self.outcomes)

    async def wait_until(self, done: Callable[[], bool], deadline: float) -> bool:
        while not done() and time.monotonic() < deadline:
            self.changed.clear()
            try:
                await asyncio.wait_for(self.changed.wait(), timeout=max(0.0, deadline - time.monotonic()))
            except TimeoutError:
                break
        return done()


class Console:
    def __init__(self, redis: Redis, coordinator: Coordinator, *, out: TextIO = sys.stdout) -> None:
        self.redis, self.coordinator, self.out = redis, coordinator, out
        self.screen = Screen(out)
        self.replies = Replies()
        self.actor = console_actor()
        self.stream = keys.console(CHAT.chat)
        self.last_id = "$"
        self.closing = asyncio.Event()
        self.held = Held()
        self.id = uuid.uuid4().hex
        self.resume = False
        """A terminal console keeps where it got to (`console:<chat>:seen`) and starts from there next time."""

    async def start(self, *, resume: bool = False) -> None:
        """From the stream's end; with `resume` (a terminal), first what came while no console was open — the
        card of a task drafted after a restart — and the progress lines of that time left out."""
        self.resume, newest = resume, await newest_id(self.redis, self.stream) or "0-0"
        seen = codec.text(await self.redis.get(self._seen())) if resume else ""
        if seen and seen != newest:
            missed = await newest_after(self.redis, self.stream, seen, upto=newest, count=MISSED)
            said = [f for _, f in missed if f.get("kind") not in (ASKED, Kind.PROGRESS.value)]
            self.screen.show("While no console was open:") if said else None
            for fields in said:
                self.show(fields)
        self.last_id = newest
        await self._saw()

    def _seen(self) -> str:
        return keys.console(f"{CHAT.chat}:seen")

    async def _saw(self) -> None:
        if self.resume:
            with contextlib.suppress(RedisError):
                await self.redis.set(self._seen(), self.last_id)

    async def send(self, text: str) -> None:
        event_id = f"console-{uuid.uuid4().hex}"
        self.replies.expect(event_id)
        await self._asked(text)
        await self.coordinator.receive(Inbound(actor=self.actor, chat=CHAT, text=text, event_id=event_id))

    async def _asked(self, text: str) -> None:
        """The question goes into the stream too, so every other console shows what its replies answer."""
        fields = {"kind": ASKED, "text": f"{PROMPT}{text}", "by": self.id}
        with contextlib.suppress(RedisError):  # the question itself still goes in (and fails in words there)
            await self.redis.xadd(self.stream, fields, maxlen=MAXLEN, approximate=True)  # type: ignore[arg-type]

    async def enter(self, entry: Entry) -> None:
        """A typed line is a message; a paste is one request, and its decisions wait for the operator's y."""
        waiting = self.held.decisions
        run, answered = self.held.answer(entry)
        for decision in run:
            await self.send(decision)
        if waiting and not run:
            self.screen.show(left(waiting))
        if answered or run:
            return
        if not entry.pasted:
            if entry.text.strip():
                await self.send(entry.text)
            return
        await self._pasted(entry)

    async def _pasted(self, entry: Entry) -> None:
        pasted = split(entry)
        if pasted.request:
            await self.send(pasted.request)
        if pasted.decisions:
            self.held.decisions = pasted.decisions
            self.screen.show(question(pasted.decisions))

    async def listen(self) -> None:
        """Stops when `closing` is set; never cancelled mid-read, which can wedge a redis-py connection."""
        while not self.closing.is_set():
            batch = await read_after(self.redis, self.stream, self.last_id, block_ms=LISTEN_BLOCK_MS)
            for entry_id, fields in batch:
                self.last_id = entry_id
                self.show(fields)
            await self._saw() if batch else None

    def show(self, fields: dict[str, str]) -> None:
        if fields.get("kind") == ASKED:
            if fields.get("by") != self.id:  # this console's own questions are on its screen already
                self.screen.show(f"{OTHER}{fields['text']}")
            return
        progress_of = (fields.get("task") or None) if fields.get("kind") == Kind.PROGRESS else None
        self.screen.show(fields["text"], progress_of=progress_of)
        self.replies.saw(fields)


async def stop(console: Console, task: asyncio.Task[None]) -> None:
    console.closing.set()
    await task


async def run_piped(console: Console, lines: list[str]) -> int:
    await console.start()
    listener = asyncio.create_task(console.listen())
    deadline, replies = time.monotonic() + PIPED_WAIT_S, console.replies
    try:
        for line in (clean(raw.rstrip("\n")) for raw in lines):
            if not line.strip():
                continue
            console.screen.show(f"{PROMPT}{line}")
            await console.send(line)
            await replies.wait_until(replies.replied, deadline)
        if not await replies.wait_until(replies.quiet, deadline):
            waiting = replies.waiting()
            console.screen.show(
                f"(gave up waiting after {PIPED_WAIT_S:.0f} s for {waiting} repl"
                f"{'y' if waiting == 1 else 'ies'}; see 'deputy ledger')"
            )
    finally:
        await stop(console, listener)
    return 0


async def run_interactive(console: Console, *, history: Path | None = None) -> int:
    """`history` is the readline history file; by default `console_history` in the configured data dir."""
    console.screen.show("Deputy console — type a request, or /help. Ctrl-D to leave.")
    await console.start(resume=True)
    listener = asyncio.create_task(console.listen())
    reader = open_reader(console.out, history or default_history())
    console.screen.prompt = reader
    try:
        while (entry := await reader.line()) is not None and entry.text.strip() not in QUIT:
            await console.enter(entry)
        return 0
    finally:
        console.screen.prompt = NO_PROMPT
        reader.close()
        print(file=console.out)
        await stop(console, listener)
