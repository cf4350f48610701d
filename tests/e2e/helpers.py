from __future__ import annotations

import io
import re

from bot.console.channel import Console, run_piped
from config.wiring import Runtime
from orchestrator.coordinator import Inbound
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
