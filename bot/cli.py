"""The `deputy` command. Exit codes: 0 ok, 1 a check found a problem (replay; shadow: a difference, or a run the
budget stopped), 2 bad usage or configuration."""

from __future__ import annotations

import os

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

import argparse
import asyncio
import sys
from collections.abc import Sequence

from config.logs import redact_output, setup_logging
from config.settings import Settings, load_settings
from orchestrator.errors import ConfigError


def _up(args: argparse.Namespace, settings: Settings) -> int:
    from bot.up import run_up

    return run_up(settings)


def _serve(args: argparse.Namespace, settings: Settings) -> int:
    from bot.serve import run_serve

    return asyncio.run(run_serve(settings))


def _worker(args: argparse.Namespace, settings: Settings) -> int:
    from agents.worker import run_worker

    return run_worker(settings, burst=args.burst)


def _scheduler(args: argparse.Namespace, settings: Settings) -> int:
    from agents.scheduler import run_scheduler

    return run_scheduler(settings)


def _chat(args: argparse.Namespace, settings: Settings) -> int:
    from bot.console.run import run_chat

    return asyncio.run(run_chat(settings))


def _ledger(args: argparse.Namespace, settings: Settings) -> int:
    from bot.ops import run_ledger

    return asyncio.run(run_ledger(settings, follow=args.follow, as_json=args.json, since=args.since))


def _replay(args: argparse.Namespace, settings: Settings) -> int:
    from bot.ops import run_replay

    return asyncio.run(run_replay(settings))


def _stats(args: argparse.Namespace, settings: Settings) -> int:
    from bot.stats import run_stats

    return asyncio.run(run_stats(settings, since=args.since, as_json=args.json))


def _shadow(args: argparse.Namespace, settings: Settings) -> int:
    from pathlib import Path

    from bot.shadow import run_shadow

    directory = Path(args.playbooks) if args.playbooks else None
    return asyncio.run(
        run_shadow(
            settings, since=args.since, playbooks_dir=directory, model=args.model, limit=args.limit, as_json=args.json
        )
    )


def _doctor(args: argparse.Namespace, settings: Settings) -> int:
    from bot.doctor import run_doctor

    return asyncio.run(run_doctor(settings))


def _digest(args: argparse.Namespace, settings: Settings) -> int:
    from datetime import date

    from agents.scheduler import post_digest

    try:
        day = date.fromisoformat(args.date) if args.date else None
    except ValueError:
        raise ConfigError(f"--date {args.date!r} is not YYYY-MM-DD") from None
    print(asyncio.run(post_digest(settings, now=args.now, day=day)))
    return 0


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="deputy", description="Deputy: approved, audited, exactly-once actions from chat.")
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
    shadow.add_argument("--playbooks", metavar="DIR", help="draft with the playbooks in DIR instead of the configured")
    shadow.add_argument("--model", metavar="M", help="draft with this model (default: DEPUTY_LLM_MODEL)")
    shadow.add_argument("--limit", type=int, metavar="N", help="only the last N requests")
    shadow.add_argument("--json", action="store_true", help="one JSON object")
    shadow.set_defaults(run=_shadow)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        settings = load_settings()
        redact_output(settings)
        setup_logging(settings)
        return int(args.run(args, settings))
    except ConfigError as err:
        print(f"deputy: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
