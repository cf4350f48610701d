from __future__ import annotations

import io
import re

from bot.console.channel import Console, run_piped
from config.wiring import Runtime

PROPOSAL = re.compile(r"Proposal (p[0-9a-z]+)")


async def converse(runtime: Runtime, *lines: str) -> str:
    """Drive the real console channel in-process, as `deputy chat` with piped input does."""
    out = io.StringIO()
    await run_piped(Console(runtime.redis, runtime.coordinator, out=out), list(lines))
    return out.getvalue()


def proposal_id(transcript: str) -> str:
    match = PROPOSAL.search(transcript)
    assert match, f"no proposal in:\n{transcript}"
    return match[1]
