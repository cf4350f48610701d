"""`deputy chat`: the console channel. In a terminal it is a REPL; with piped input it sends one message per
line, waits for each one's final reply (60 s in all at most), and exits 0. Replies come back through the
console's Redis Stream, the same way a worker in another process sends them."""

from __future__ import annotations

import asyncio
import getpass
import sys
import threading
import time
import uuid
from typing import TextIO

from redis.asyncio import Redis

from memory import keys
from memory.streams import newest_id, read_after
from orchestrator.commands import Inbound
from orchestrator.coordinator import Coordinator
from orchestrator.model import Actor, ChatRef

CHAT = ChatRef("console", "local")
PIPED_WAIT_S = 60.0
PROMPT = "deputy> "
LISTEN_BLOCK_MS = 200


def console_actor() -> Actor:
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "operator"
    return Actor("console", user, "you")


class Console:
    def __init__(self, redis: Redis, coordinator: Coordinator, *, out: TextIO = sys.stdout) -> None:
        self.redis, self.coordinator, self.out = redis, coordinator, out
        self.actor = console_actor()
        self.awaiting: set[str] = set()
        self.changed = asyncio.Event()
        self.stream = keys.console(CHAT.chat)
        self.last_id = "$"
        self.closing = asyncio.Event()
        self.prompting = False
        self.prompt_drawn = False  # a message redrew the prompt since the operator last pressed Enter

    async def start(self) -> None:
        self.last_id = await newest_id(self.redis, self.stream) or "0-0"

    async def send(self, text: str) -> None:
        event_id = f"console-{uuid.uuid4().hex}"
        self.awaiting.add(event_id)
        await self.coordinator.receive(Inbound(actor=self.actor, chat=CHAT, text=text, event_id=event_id))

    async def listen(self) -> None:
        """Stops when `closing` is set; never cancelled mid-read, which can wedge a redis-py connection."""
        while not self.closing.is_set():
            for entry_id, fields in await read_after(self.redis, self.stream, self.last_id, block_ms=LISTEN_BLOCK_MS):
                self.last_id = entry_id
                self.show(fields)

    def show(self, fields: dict[str, str]) -> None:
        if self.prompting:  # clear the prompt line, print, then draw the prompt again
            print(f"\r\x1b[K{fields['text']}\n{PROMPT}", end="", file=self.out, flush=True)
            self.prompt_drawn = True
        else:
            print(fields["text"], file=self.out, flush=True)
        if fields.get("final") == "1" and fields.get("reply_to") in self.awaiting:
            self.awaiting.discard(fields["reply_to"])
            self.changed.set()

    async def settled(self, deadline: float) -> bool:
        while self.awaiting and time.monotonic() < deadline:
            self.changed.clear()
            try:
                await asyncio.wait_for(self.changed.wait(), timeout=max(0.0, deadline - time.monotonic()))
            except TimeoutError:
                break
        return not self.awaiting


async def stop(console: Console, task: asyncio.Task[None]) -> None:
    console.closing.set()
    await task


async def run_piped(console: Console, lines: list[str]) -> int:
    await console.start()
    listener = asyncio.create_task(console.listen())
    deadline = time.monotonic() + PIPED_WAIT_S
    try:
        for line in (raw.rstrip("\n") for raw in lines):
            if not line.strip():
                continue
            print(f"{PROMPT}{line}", file=console.out, flush=True)
            await console.send(line)
            await console.settled(deadline)
        if not await console.settled(deadline):
            print(
                f"(gave up waiting after {PIPED_WAIT_S:.0f} s for {len(console.awaiting)} repl"
                f"{'y' if len(console.awaiting) == 1 else 'ies'}; see 'deputy ledger')",
                file=console.out,
            )
    finally:
        await stop(console, listener)
    return 0


def stdin_lines() -> asyncio.Queue[str | None]:
    """Lines typed at the terminal, None at end of input. A daemon thread reads them: a blocked `input()`
    in asyncio's executor would keep Ctrl-C from stopping Deputy until Enter is pressed."""
    loop = asyncio.get_running_loop()
    lines: asyncio.Queue[str | None] = asyncio.Queue()

    def read() -> None:
        for line in sys.stdin:
            loop.call_soon_threadsafe(lines.put_nowait, line.rstrip("\n"))
        loop.call_soon_threadsafe(lines.put_nowait, None)

    threading.Thread(target=read, name="deputy-stdin", daemon=True).start()
    return lines


async def run_interactive(console: Console) -> int:
    await console.start()
    print("Deputy console — type a request, or /help. Ctrl-D to leave.", file=console.out, flush=True)
    listener = asyncio.create_task(console.listen())
    lines = stdin_lines()
    console.prompting = True
    try:
        while True:
            if not console.prompt_drawn:  # an instant reply (/status) has already drawn it
                print(PROMPT, end="", file=console.out, flush=True)
            line = await lines.get()
            console.prompt_drawn = False
            if line is None or line.strip() in ("/quit", "/exit"):
                return 0
            if line.strip():
                await console.send(line)
    finally:
        console.prompting = False
        print(file=console.out)
        await stop(console, listener)
