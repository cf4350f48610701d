from __future__ import annotations

import asyncio
import contextlib
import io
import re
import traceback
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from types import FrameType
from typing import Any

from bot.console.channel import Console, run_piped
from bot.stopping import end
from bot.web import deputy_app
from bot.wiring import Runtime, build_runtime
from memory import keys
from memory.embedded import free_port
from memory.streams import newest_after
from orchestrator.commands import Inbound
from orchestrator.model import Actor, ChatRef

PROPOSAL = re.compile(r"Proposal (p[0-9a-z]+)")
CONSOLE = ChatRef("console", "local")
OPERATOR = Actor("console", "op", "you")


async def converse(runtime: Runtime, *lines: str) -> str:
    """Drive the real console channel in-process, as `deputy chat` with piped input does."""
    out = io.StringIO()
    await run_piped(Console(runtime.redis, runtime.coordinator, out=out), list(lines))
    return out.getvalue()


async def send(runtime: Runtime, text: str, event_id: str, *, actor: Actor = OPERATOR) -> None:
    """One console message straight into the coordinator, without waiting for replies (unlike `converse`)."""
    await runtime.coordinator.receive(Inbound(actor=actor, chat=CONSOLE, text=text, event_id=event_id))


def proposal_id(transcript: str) -> str:
    match = PROPOSAL.search(transcript)
    assert match, f"no proposal in:\n{transcript}"
    return match[1]


@contextlib.asynccontextmanager
async def web_deputy(env: dict[str, str]) -> AsyncIterator[tuple[Runtime, int]]:
    """Deputy's whole web app (channels included) in the test's loop, on a free port, wired as `env` says."""
    from tests.conftest import serve, settings_from

    runtime = build_runtime(settings_from(env), env["REDIS_URL"])
    port = free_port()
    runner = await serve(deputy_app(runtime), port)
    try:
        yield runtime, port
    finally:
        try:
            await bounded(runner.cleanup(), "the web app's cleanup (runner.cleanup)")
        finally:
            await bounded(runtime.close(), "runtime.close()")


STOP_S = 60.0
"""A clean stop takes seconds (the ingress drains for at most DRAIN_S): a stop still waiting after this fails the
test with what every task of the loop is waiting on, instead of hanging the run."""


async def bounded(step: Awaitable[None], what: str, timeout: float = STOP_S) -> None:
    """Await `step` for at most `timeout` seconds, else fail loudly with the stacks of the loop's tasks (then
    stopped, as far as they let themselves be). It runs as a task of its own, watched by `asyncio.wait`: unlike
    `wait_for`, a step that swallows its cancellation cannot make the watcher wait for it too."""
    task = asyncio.ensure_future(step)
    done, _ = await asyncio.wait({task}, timeout=timeout)
    if task in done:
        return task.result()
    others = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
    stacks = "\n".join(awaiting(t) for t in others)
    await asyncio.gather(*(end(t, 5) for t in others))  # so the loop can close after the failure
    raise AssertionError(f"{what} still waiting after {timeout:g} s; the event loop's tasks:\n{stacks}")


async def watched(
    predicate: Callable[[], Any], timeout: float, what: str, tasks: str, runtime: Runtime | None = None
) -> Any:
    """`eventually`, and when it times out, the await chains of the loop's tasks whose name starts with `tasks`
    (an inbox folder loop, say): where a background loop of the app under test was waiting is the first thing a
    failure needs to say; then, given the `runtime`, the ledger's last events (what the workers did meanwhile)."""
    from tests.conftest import eventually

    try:
        return await eventually(predicate, timeout, what)
    except AssertionError as err:
        mine = [t for t in asyncio.all_tasks() if t.get_name().startswith(tasks)]
        said = f"{err}; the {tasks!r} tasks:\n" + "\n".join(awaiting(t) for t in mine)
        raise AssertionError(said + (await last_events(runtime) if runtime else "")) from None


async def last_events(runtime: Runtime, count: int = 20) -> str:
    rows = await newest_after(runtime.redis, keys.LEDGER, "0", upto="+", count=count)
    lines = [f"  {f['type']} {f['task']}: {f['summary'][:200]}" for _, f in rows]
    return "the ledger's last events:\n" + "\n".join(lines)


def awaiting(task: asyncio.Task[object]) -> str:
    """A task's whole await chain, outermost first (`Task.print_stack` shows only its own coroutine's frame)."""
    frames: list[FrameType] = []
    link: object = task.get_coro()
    last = link
    while link is not None:
        last = link
        frame = getattr(link, "cr_frame", None) or getattr(link, "gi_frame", None) or getattr(link, "ag_frame", None)
        if frame is not None:
            frames.append(frame)
        link = getattr(link, "cr_await", None) or getattr(link, "gi_yieldfrom", None) or getattr(link, "ag_await", None)
    lines = traceback.format_list(traceback.StackSummary.extract((f, f.f_lineno) for f in frames))
    return f"{task.get_name()}:\n{''.join(lines)}    awaiting {last!r:.300}\n"


async def give_the_word(runtime: Runtime, arrived: Counter[str]) -> int:
    """What an operator does with each email that may not have been sent: Mark as sent where it arrived,
    Send again where it did not. Every task reported done must have its email."""
    asked = 0
    for pid in await runtime.store.ids("proposal", "approved"):
        proposal = await runtime.store.get_proposal(pid)
        assert proposal is not None
        action = proposal.actions[0]
        if action.status.value == "uncertain":
            word = "sent" if action.fields["to"] in arrived else "resend"
            await send(runtime, f"/{word} {pid}", f"soak-{word}-{pid}")
            asked += 1
        else:
            assert action.fields["to"] in arrived, f"{pid}: reported {action.status.value}, but no email arrived"
    return asked
