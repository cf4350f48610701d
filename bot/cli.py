"""The `deputy` command. Exit codes: 0 ok, 1 a check found a problem (replay; shadow: a difference, or a run the
budget stopped), 2 bad usage or configuration — always one line on stderr, never a traceback: a malformed
setting, an unreadable policies.yaml or playbook, a Redis that can't be reached. A reader that goes away
(`deputy ledger | head -1`) ends any command quietly, with 0."""

from __future__ import annotations

import os

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

import argparse
import select
import stat
import sys
from collections.abc import Coroutine, Sequence
from datetime import date, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, TextIO, TypeVar

from orchestrator.errors import ConfigError

if TYPE_CHECKING:
    import asyncio

    from config.settings import Settings

# Only the standard library and the core above: `deputy --help`, `deputy <word> --help` and bad usage import
# nothing of redis, pydantic(-settings), asyncio or litellm (0.2 s less per call; tests/bot/test_cli_imports.py).
T = TypeVar("T")
NEEDS_REDIS = frozenset(
    {"worker", "scheduler", "chat", "digest", "ledger", "replay", "stats", "shadow", "import", "export"}
)
"""Commands that can do nothing without Redis, so they ask it first. `up` asks an external one (it starts the
embedded one itself); `serve` stays up to say on /readyz what is wrong; `doctor` reports it among its checks."""


def _up(args: argparse.Namespace, settings: Settings) -> int:
    from bot.up import run_up

    return run_up(settings)


def _serve(args: argparse.Namespace, settings: Settings) -> int:
    import asyncio

    from bot.serve import run_serve

    return asyncio.run(run_serve(settings))


def _worker(args: argparse.Namespace, settings: Settings) -> int:
    from bot.worker import run_worker

    return run_worker(settings, burst=args.burst)


def _scheduler(args: argparse.Namespace, settings: Settings) -> int:
    from bot.scheduler import run_scheduler

    return run_scheduler(settings)


def _chat(args: argparse.Namespace, settings: Settings) -> int:
    from bot.console.run import run_chat

    return until_reader_gone(run_chat(settings))


def _ledger(args: argparse.Namespace, settings: Settings) -> int:
    from bot.ops import run_ledger

    return until_reader_gone(run_ledger(settings, follow=args.follow, as_json=args.json, since=args.since))


def _replay(args: argparse.Namespace, settings: Settings) -> int:
    from bot.ops import run_replay

    return until_reader_gone(run_replay(settings))


def _import(args: argparse.Namespace, settings: Settings) -> int:
    from bot.imports import run_import

    return until_reader_gone(run_import(settings, Path(args.file), do=args.apply))


def _export(args: argparse.Namespace, settings: Settings) -> int:
    from bot.imports import run_export

    return until_reader_gone(run_export(settings, as_json=args.json))


def _stats(args: argparse.Namespace, settings: Settings) -> int:
    from bot.stats import run_stats

    return until_reader_gone(run_stats(settings, since=args.since, as_json=args.json))


def _shadow(args: argparse.Namespace, settings: Settings) -> int:
    from pathlib import Path

    from bot.shadow import run_shadow

    directory = Path(args.playbooks) if args.playbooks else None
    return until_reader_gone(
        run_shadow(
            settings, since=args.since, playbooks_dir=directory, model=args.model, limit=args.limit, as_json=args.json
        )
    )


def _doctor(args: argparse.Namespace, settings: Settings) -> int:
    from bot.doctor import run_doctor

    return until_reader_gone(run_doctor(settings))


def _digest(args: argparse.Namespace, settings: Settings) -> int:
    from bot.scheduler import post_digest

    print(until_reader_gone(post_digest(settings, now=args.now, day=digest_day(args.date))))
    return 0


def digest_day(text: str | None) -> date | None:
    """`--date`, with the week before it that the digest's spend line shows (year 1's first days have none)."""
    try:
        day = date.fromisoformat(text) if text else None
    except ValueError:
        raise ConfigError(f"--date {text!r} is not YYYY-MM-DD") from None
    if day is not None and day < date.min + timedelta(days=7):
        raise ConfigError(f"--date {text!r} is too early: the digest needs the week before it")
    return day


class OneLineParser(argparse.ArgumentParser):
    """Bad usage is one line, as every other error is: what was wrong and where the help is."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: {message}; '{self.prog} --help' says more\n")


def parser() -> argparse.ArgumentParser:
    p = OneLineParser(prog="deputy", description="Deputy: approved, audited, exactly-once actions from chat.")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")
    sub.add_parser("up", help="everything in one process tree (make run)").set_defaults(run=_up)
    sub.add_parser("serve", help="web server only").set_defaults(run=_serve)
    worker = sub.add_parser("worker", help="one RQ worker for Deputy's queue")
    worker.add_argument("--burst", action="store_true", help="exit when the queue is empty")
    worker.set_defaults(run=_worker)
    sub.add_parser(
        "scheduler", help="digest, reminders, expiry, liveness alerts and the maintenance sweep; safe to run twice"
    ).set_defaults(run=_scheduler)
    sub.add_parser("chat", help="the console channel").set_defaults(run=_chat)
    digest = sub.add_parser("digest", help="build and post the digest")
    digest.add_argument("--now", action="store_true", help="post now, even if that date's digest was posted")
    digest.add_argument("--date", help="the digest's date, YYYY-MM-DD (default: today)")
    digest.set_defaults(run=_digest)
    ledger = sub.add_parser("ledger", help="read the audit ledger")
    ledger.add_argument("--follow", action="store_true", help="keep printing new entries")
    ledger.add_argument("--json", action="store_true", help="one JSON object per line")
    ledger.add_argument("--since", help="ISO date/time (2026-11-03T09:00) or age (30m, 2h, 7d)")
    ledger.set_defaults(run=_ledger)
    sub.add_parser("replay", help="rebuild state from the ledger and report differences").set_defaults(run=_replay)
    sub.add_parser("doctor", help="check configuration and connectivity").set_defaults(run=_doctor)
    stats = sub.add_parser("stats", help="what happened to proposals, per action kind and playbook, and time saved")
    stats.add_argument("--since", default="7d", help="ISO date/time or age (default 7d)")
    stats.add_argument("--json", action="store_true", help="one JSON object")
    stats.set_defaults(run=_stats)
    shadow = sub.add_parser("shadow", help="re-draft past requests with other playbooks or model; applies nothing")
    shadow.add_argument("--since", default="7d", help="ISO date/time or age (default 7d)")
    shadow.add_argument("--playbooks", metavar="DIR", help="draft with the playbooks in DIR, not the configured ones")
    shadow.add_argument("--model", metavar="M", help="draft with this model (default: DEPUTY_LLM_MODEL)")
    shadow.add_argument("--limit", type=int, metavar="N", help="only the last N requests")
    shadow.add_argument("--json", action="store_true", help="one JSON object")
    shadow.set_defaults(run=_shadow)
    imports = sub.add_parser("import", help="clients and projects from a CSV or vCard file: what would change")
    imports.add_argument("file", help="a .csv (header row: name,email,company,phone,status,terms,tags) or .vcf file")
    imports.add_argument("--apply", action="store_true", help="do it (the same file twice changes nothing)")
    imports.set_defaults(run=_import)
    export = sub.add_parser("export", help="every client and project record, as CSV (or --json with history)")
    export.add_argument("--json", action="store_true", help="JSON: fields, merges and every version with its source")
    export.set_defaults(run=_export)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    try:
        try:
            return _main(argv)
        finally:
            sys.stdout.flush()  # what is still buffered: a closed pipe shows here, not as an interpreter warning
    except BrokenPipeError:
        if not silence_closed_pipes():
            raise
        return 0


def _main(argv: Sequence[str] | None) -> int:
    args = parser().parse_args(argv)
    try:
        from config.logs import redact_output, setup_logging
        from config.settings import load_settings

        settings = load_settings()
        redact_output(settings)
        setup_logging(settings)
        return _run(args, settings)
    except ConfigError as err:
        from bot.doctor_local import one_line

        print(f"deputy: {one_line(str(err))}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


def _run(args: argparse.Namespace, settings: Settings) -> int:
    """The command, once what it can't do without is there; Redis lost on the way is one line too."""
    from redis.exceptions import ConnectionError as RedisConnectionError
    from redis.exceptions import TimeoutError as RedisTimeoutError

    try:
        preflight(args.command, settings)
        return int(args.run(args, settings))
    except (RedisConnectionError, RedisTimeoutError) as err:
        raise ConfigError(f"{_which_redis(settings)} stopped answering ({err}); {_redis_fix(settings)}") from None


def preflight(command: str, settings: Settings) -> None:
    """Asked before a command starts, so it fails in one line instead of half-way (or after saying it is up)."""
    from bot.doctor_local import unreadable_files
    from config.settings import redact_url
    from memory.connections import resolve_url, unanswered
    from memory.faults import FIXES

    if command != "doctor" and (problem := unreadable_files(settings.data_dir)):  # doctor reports it as a check
        raise ConfigError(problem)
    if command in NEEDS_REDIS or (command == "up" and settings.redis_url):
        url = resolve_url(settings.redis_url, settings.data_dir)  # names both when no embedded Redis runs
        if why := unanswered(url):
            raise ConfigError(f"{FIXES['down']} at {redact_url(url)} ({why}); {_redis_fix(settings)}")


def _which_redis(settings: Settings) -> str:
    return "Redis at REDIS_URL" if settings.redis_url else f"the embedded Redis in {settings.data_dir}"


def _redis_fix(settings: Settings) -> str:
    if settings.redis_url:
        return "check REDIS_URL and that Redis is running there"
    return "start Deputy with 'deputy up' (or 'make run'), or set REDIS_URL"


def until_reader_gone(work: Coroutine[Any, Any, T]) -> T:
    """`asyncio.run(work)`, cancelled as soon as the pipe stdout writes to loses its reader: a command waiting
    for replies (`deputy chat < script | head -1`) or new entries (`deputy ledger --follow | head -1`) ends
    then, not at its next write or never."""
    import asyncio

    return asyncio.run(_watched(work))


async def _watched(work: Coroutine[Any, Any, T]) -> T:
    import asyncio

    task = asyncio.ensure_future(work)
    if not _is_pipe(sys.stdout):
        return await task
    loop, fd, gone = asyncio.get_running_loop(), sys.stdout.fileno(), asyncio.Event()
    loop.add_reader(fd, gone.set)  # the write end of a pipe polls as an error once nobody reads it
    stopping = asyncio.create_task(_cancel_when(gone, task))
    try:
        return await task
    except (Exception, asyncio.CancelledError):
        if gone.is_set():  # whatever the command was doing when it was stopped, nobody is left to tell
            raise BrokenPipeError("stdout's reader went away") from None
        raise
    finally:
        stopping.cancel()
        loop.remove_reader(fd)


async def _cancel_when(gone: asyncio.Event, task: asyncio.Task[Any]) -> None:
    import asyncio

    """Cancels `task` once `gone` is set, and again until it ends: a cancel that lands while redis-py opens a
    connection is swallowed there (the command then waits out its read timeout)."""
    await gone.wait()
    while not task.done():
        task.cancel()
        await asyncio.sleep(0.05)


def _is_pipe(stream: TextIO) -> bool:
    try:
        return stat.S_ISFIFO(os.fstat(stream.fileno()).st_mode)
    except (OSError, ValueError, AttributeError):
        return False


def silence_closed_pipes() -> bool:
    """Points stdout and stderr at /dev/null where their reader has gone, so nothing more (the last flush at exit
    included) fails; False when neither had: that broken pipe was something else's."""
    closed = [stream for stream in (sys.stdout, sys.stderr) if _reader_gone(stream)]
    for stream in closed:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, stream.fileno())
        os.close(devnull)
    return bool(closed)


def _reader_gone(stream: TextIO) -> bool:
    try:
        poller = select.poll()
        poller.register(stream.fileno(), select.POLLOUT)
    except (OSError, ValueError, AttributeError):
        return False
    return any(events & (select.POLLERR | select.POLLHUP) for _, events in poller.poll(0))


if __name__ == "__main__":
    sys.exit(main())
