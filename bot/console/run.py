"""Entry point of `deputy chat`."""

from __future__ import annotations

import sys

from bot.console.channel import Console, run_interactive, run_piped
from bot.console.prompt import HISTORY_FILE
from bot.wiring import build_runtime
from config.logs import log_to_file
from config.settings import Settings
from memory.liveness import alive_workers


async def run_chat(settings: Settings) -> int:
    runtime = build_runtime(settings)
    try:
        await runtime.attach()
        if not await alive_workers(runtime.redis):
            print(
                "deputy: no worker is running, so requests will wait until one starts "
                "('deputy worker', or 'deputy up' which starts one)",
                file=sys.stderr,
                flush=True,
            )
        console = Console(runtime.redis, runtime.coordinator)
        if sys.stdin.isatty():
            log_to_file(settings)
            return await run_interactive(console, history=settings.data_dir / HISTORY_FILE)
        return await run_piped(console, sys.stdin.readlines())
    finally:
        await runtime.close()
