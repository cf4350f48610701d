"""`deputy up`: Redis (embedded unless REDIS_URL), the web server, one worker, the scheduler (with the
maintenance sweep) and, at a terminal with no Slack/Telegram credentials, the console. It supervises them:
a worker or an embedded Redis that exits is started again with backoff, and the operator is told once per
outage — one line on stderr at once (a chat message can't be stored while Redis is down), and a notice in the
report chat once it can be. A failed scheduler pass is logged and the next one runs. Ctrl-C stops them in
order: console, scheduler and web, worker, then Redis."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

from aiohttp import web

from bot.channels import chatting
from bot.console.channel import Console, run_interactive
from bot.doctor_local import invalid_files
from bot.scheduler import run_loop, sweeping
from bot.stopping import Stop, kill_worker, no_interrupts, stop_worker, take_stock
from bot.web import deputy_app
from bot.wiring import Runtime, build_runtime
from config.logs import log_to_file
from config.providers import missing_key
from config.settings import Settings, redact_url
from memory.embedded import EmbeddedRedis, die_with_parent, running_url
from orchestrator.errors import ConfigError
from orchestrator.outbound import Kind, Outbound

log = logging.getLogger("deputy.up")
CHECK_S = 0.5
BACKOFF_S = (1.0, 30.0)
STABLE_S = 60.0
"""A child that has run this long since its last restart ends the outage: a later exit is told again."""


def start_worker(url: str, log: Path | None = None) -> subprocess.Popen[bytes]:
    """Its own session, so Ctrl-C reaches only `up`, which then stops it after the web server; it is told
    which Redis `up` chose. With `log` (the console owns the screen) its output goes to that file."""
    with open(log, "ab") if log else contextlib.nullcontext() as out:
        return subprocess.Popen(
            [sys.executable, "-m", "bot.cli", "worker"],
            env={**os.environ, "REDIS_URL": url},
            stdout=out,
            stderr=out,
            preexec_fn=die_with_parent,
            start_new_session=True,
        )


def exit_text(code: int | None) -> str:
    if code is not None and code < 0:
        return f"killed by {signal.Signals(-code).name}"
    return f"exit code {code}"


@dataclass
class Child:
    """One supervised child: whether it runs, how to start it again (blocking: run in a thread), why it ended."""

    name: str
    running: Callable[[], bool]
    restart: Callable[[], object]
    why: Callable[[], str]
    delay: float = BACKOFF_S[0]
    next_try: float = 0.0
    up_since: float = field(default_factory=time.monotonic)
    outage: str = ""
    """Why it went down, while it is down or not yet told in chat."""
    told: bool = False


async def check(child: Child, tell: Callable[[str], Awaitable[bool]]) -> None:
    now = time.monotonic()
    if child.running():
        await _settle(child, tell, now)
        return
    if not child.outage:
        child.outage = child.why()
        print(f"Deputy: the {child.name} stopped ({child.outage}); restarting it", file=sys.stderr, flush=True)
    if now < child.next_try:
        return
    try:
        await asyncio.to_thread(child.restart)
    except Exception as err:
        log.warning("could not restart the %s: %s", child.name, err)
    child.up_since, child.next_try = time.monotonic(), now + child.delay
    child.delay = min(child.delay * 2, BACKOFF_S[1])


async def _settle(child: Child, tell: Callable[[str], Awaitable[bool]], now: float) -> None:
    """Back up: the chat hears of the outage once; after a stable run the next exit is a new outage."""
    if child.outage and not child.told:
        child.told = await tell(f"The {child.name} stopped ({child.outage}) and was restarted.")
    if child.outage and now - child.up_since >= STABLE_S:
        child.outage, child.told, child.delay = "", False, BACKOFF_S[0]


async def supervise(children: list[Child], tell: Callable[[str], Awaitable[bool]], stop: asyncio.Event) -> None:
    while not stop.is_set():
        for child in children:
            await check(child, tell)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), CHECK_S)


def teller(runtime: Runtime, settings: Settings) -> Callable[[str], Awaitable[bool]]:
    """A notice in the report chat through the core's outbox; False while it can't be stored."""

    async def tell(text: str) -> bool:
        try:
            await runtime.redis.ping()
        except Exception:
            return False
        await runtime.coordinator.notify(settings.report_chat, Outbound(kind=Kind.ERROR, text=text))
        return True

    return tell


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


@dataclass
class Processes:
    """The children `up` started: the worker, and the embedded Redis unless REDIS_URL points elsewhere."""

    url: str
    embedded: EmbeddedRedis | None
    worker: subprocess.Popen[bytes]
    log: Path | None = None
    """Where the worker's output goes while the console owns the screen."""

    def restart_worker(self) -> None:
        self.worker = start_worker(self.url, self.log)

    def children(self) -> list[Child]:
        worker = Child("worker", lambda: self.worker.poll() is None, self.restart_worker, self._worker_exit)
        if self.embedded is None:
            return [worker]
        redis = Child("embedded Redis", self.embedded.running, self.embedded.start, self.embedded.exit_reason)
        return [redis, worker]

    def _worker_exit(self) -> str:
        return exit_text(self.worker.returncode)


async def serve_until_stopped(settings: Settings, processes: Processes, *, console: bool, said: Stop) -> int:
    url = processes.url
    runtime = build_runtime(settings, url)
    await runtime.attach()
    runner = await start_web(settings, deputy_app(runtime))
    print(f"Deputy is up · web http://{settings.host}:{settings.port} · Redis {redact_url(url)}", flush=True)
    if processes.log:
        print(f"Deputy's log: {processes.log}", flush=True)
    if key := missing_key(settings.llm_model, settings.llm_api_base):
        print(f"Note: DEPUTY_LLM_MODEL={settings.llm_model} needs {key}; drafts fail until it is set.", flush=True)
    stop = asyncio.Event()
    sweeper = sweeping(settings, url)
    sweeper.start()
    background = [
        asyncio.create_task(run_loop(runtime.scheduler, stop), name="deputy:scheduler"),
        asyncio.create_task(supervise(processes.children(), teller(runtime, settings), stop), name="deputy:supervise"),
    ]
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
        await _say_stopping(runtime, said)
        await asyncio.gather(*background)
        sweeper.stop()
        await runner.cleanup()
        await runtime.close()
        said.done = True


async def _say_stopping(runtime: Runtime, said: Stop) -> None:
    """At once, before anything is waited for: what the stop waits for and what is held for the next start."""
    if said.said:
        return
    with contextlib.suppress(Exception):  # Redis gone: the stop goes on, saying only that it stops
        await asyncio.wait_for(take_stock(runtime.store, said), 1.0)
    said.said = True
    print("\n".join(said.lines()), flush=True)


def can_start(settings: Settings) -> None:
    """What would stop the start is found before anything starts: one line, and nothing to stop."""
    if problem := invalid_files(settings):
        raise ConfigError(problem)
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((settings.host, settings.port))
        except OSError as err:
            raise ConfigError(
                f"can't listen on {settings.host}:{settings.port} ({err.strerror}); set DEPUTY_PORT to a free port"
            ) from None


def run_up(settings: Settings) -> int:
    """0 when stopped (Ctrl-C, Ctrl-D at the console, SIGTERM); 130 when a second Ctrl-C cut the stop short."""
    can_start(settings)
    embedded: EmbeddedRedis | None = None
    url = settings.redis_url or running_url(settings.data_dir)
    if url is None:
        embedded = EmbeddedRedis(settings.data_dir)
        url = embedded.start()
    console = sys.stdin.isatty() and not chatting(settings)
    log = log_to_file(settings) if console else None
    processes, said = Processes(url, embedded, start_worker(url, log), log), Stop()
    code = 0
    try:
        code = asyncio.run(serve_until_stopped(settings, processes, console=console, said=said))
    except KeyboardInterrupt:
        code = 130 if said.said and not said.done else 0  # a Ctrl-C once the stop had begun is the second one
    finally:
        code = _stop_children(processes, code)
    return code


def _stop_children(processes: Processes, code: int) -> int:
    """The worker (bounded; a Ctrl-C stops it at once), then Redis, last, whatever happened."""
    try:
        if code == 130:
            kill_worker(processes.worker)
        else:
            stop_worker(processes.worker)
    except KeyboardInterrupt:
        kill_worker(processes.worker)
        code = 130
    finally:
        with no_interrupts():
            if code == 130:
                kill_worker(processes.worker)
            if processes.embedded:
                processes.embedded.stop()
    return code
