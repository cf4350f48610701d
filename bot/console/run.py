"""Entry point of `deputy chat`."""

from __future__ import annotations

import sys

from bot.console.channel import Console, run_interactive, run_piped
from config.settings import Settings
from config.wiring import build_runtime


async def run_chat(settings: Settings) -> int:
    runtime = build_runtime(settings)
    try:
        console = Console(runtime.redis, runtime.coordinator)
        if sys.stdin.isatty():
            return await run_interactive(console)
        return await run_piped(console, sys.stdin.readlines())
    finally:
        await runtime.close()
