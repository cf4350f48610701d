"""`deputy serve`: the web server alone (health, readiness, metrics; Slack and Telegram ingress)."""

from __future__ import annotations

import asyncio
import signal

from bot.up import start_web
from bot.web import deputy_app
from bot.wiring import build_runtime
from config.settings import Settings


async def run_serve(settings: Settings) -> int:
    runtime = build_runtime(settings)
    await runtime.attach()
    runner = await start_web(settings, deputy_app(runtime))
    print(f"Deputy web server on http://{settings.host}:{settings.port}", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        await runner.cleanup()
        await runtime.close()
    return 0
