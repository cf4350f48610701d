"""`deputy up`: Redis (embedded unless REDIS_URL), the web server, one worker, the scheduler and, at a
terminal with no Slack/Telegram credentials, the console. Ctrl-C stops them in order: console, scheduler and
web, worker, then Redis."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import os
import signal
import subprocess
import sys

from aiohttp import web

from agents.scheduler import run_loop
from bot.console.channel import Console, run_interactive
from bot.web import deputy_app
from config.settings import Settings, redact_url
from config.wiring import build_runtime
from memory.embedded import EmbeddedRedis, die_with_parent, running_url
from orchestrator.errors import ConfigError

log = logging.getLogger("deputy.up")
WORKER_STOP_S = 15.0


def start_worker(url: str) -> subprocess.Popen[bytes]:
    """Its own session, so Ctrl-C reaches only `up`, which then stops it after the web server; it is told
    which Redis `up` chose."""
    return subprocess.Popen(
        [sys.executable, "-m", "bot.cli", "worker"],
        env={**os.environ, "REDIS_URL": url},
        preexec_fn=die_with_parent,
        start_new_session=True,
    )


def stop_worker(worker: subprocess.Popen[bytes]) -> None:
    if worker.poll() is None:
        worker.send_signal(signal.SIGTERM)  # RQ's warm shutdown: finish the current job
        try:
            worker.wait(timeout=WORKER_STOP_S)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait()


def tune_for_latency() -> None:
    """The web process acks platforms within milliseconds while the same loop does the work behind each ack.
    A short GIL switch interval stops the RQ-enqueue thread from holding the loop for up to 5 ms, and frozen
    start-up objects keep garbage-collection pauses short (measured with bench/ingress.py)."""
    sys.setswitchinterval(0.0005)
    gc.collect()
    gc.freeze()


async def start_web(settings: Settings, app: web.Application) -> web.AppRunner:
    tune_for_latency()
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    try:
        await web.TCPSite(runner, settings.host, settings.port).start()
    except OSError as err:
        await runner.cleanup()
        raise ConfigError(
            f"can't listen on {settings.host}:{settings.port} ({err.strerror}); set DEPUTY_PORT to a free port"
        ) from None
    return runner


async def serve_until_stopped(settings: Settings, url: str, *, console: bool) -> int:
    runtime = build_runtime(settings, url)
    runner = await start_web(settings, deputy_app(runtime))
    print(f"Deputy is up · web http://{settings.host}:{settings.port} · Redis {redact_url(url)}", flush=True)
    stop = asyncio.Event()
    scheduling = asyncio.create_task(run_loop(runtime.scheduler, stop), name="deputy:scheduler")
    try:
        if console:
            return await run_interactive(Console(runtime.redis, runtime.coordinator))
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await stop.wait()
        return 0
    finally:
        stop.set()
        await scheduling
        await runner.cleanup()
        await runtime.close()


def run_up(settings: Settings) -> int:
    embedded: EmbeddedRedis | None = None
    url = settings.redis_url or running_url(settings.data_dir)
    if url is None:
        embedded = EmbeddedRedis(settings.data_dir)
        url = embedded.start()
    worker = start_worker(url)
    console = sys.stdin.isatty() and not settings.has_chat_platform
    try:
        with contextlib.suppress(KeyboardInterrupt):
            return asyncio.run(serve_until_stopped(settings, url, console=console))
        return 0
    finally:
        print("Deputy is stopping…", flush=True)
        stop_worker(worker)
        if embedded:
            embedded.stop()
