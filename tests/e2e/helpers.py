from __future__ import annotations

import contextlib
import io
import re
from collections import Counter
from collections.abc import AsyncIterator

from bot.console.channel import Console, run_piped
from bot.web import deputy_app
from bot.wiring import Runtime, build_runtime
from memory.embedded import free_port
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
        await runner.cleanup()
        await runtime.close()


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
