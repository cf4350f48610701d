"""`deputy stats`: what became of the proposals, folded from the ledger by the core (orchestrator/stats.py) — a
table per action kind and per playbook, or `--json` in the contract's shape."""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime

from redis.exceptions import RedisError

from bot.ops import emit, quiet_stdout, since_id
from bot.wiring import Runtime, build_runtime
from config.settings import Settings
from memory.clients import RedisRecordBook
from memory.faults import describe
from orchestrator.errors import ConfigError
from orchestrator.outbound import money
from orchestrator.stats import OUTCOMES, Figures, Stats, duration_text

DEFAULT_SINCE = "7d"
HEADINGS = ("proposed", "drafted", "changed", "rejected", "undone", "expired", "failed", "waiting", "caught")
"""Column headings, in the order of `proposed`, OUTCOMES and `caught`."""


def since_time(since: str) -> datetime | None:
    """`--since` as `deputy ledger` reads it (an ISO time or an age like 7d), as a time; None for the beginning."""
    position = since_id(since)
    if position == "0":
        return None
    return datetime.fromtimestamp((int(position.split("-")[0]) + 1) / 1000, UTC)


@contextlib.contextmanager
def redis_faults() -> Iterator[None]:
    """A Redis that can't be reached (or a malformed REDIS_URL) is one line and exit 2, never a traceback."""
    try:
        yield
    except ValueError as err:
        raise ConfigError(f"REDIS_URL: {err}") from None
    except (RedisError, ConnectionError, TimeoutError) as err:
        raise ConfigError(describe(err)) from None


@contextlib.asynccontextmanager
async def opened(settings: Settings) -> AsyncIterator[Runtime]:
    with redis_faults():
        runtime = build_runtime(settings)
    try:
        yield runtime
    finally:
        await runtime.close()


async def run_stats(settings: Settings, *, since: str | None, as_json: bool) -> int:
    start = since_time(since or DEFAULT_SINCE)
    async with opened(settings) as runtime:
        with redis_faults():
            figures = await runtime.coordinator.views.figures(start)
            names = {e.id: e.name for e in await RedisRecordBook(runtime.redis).many(sorted(figures.clients))}
    try:
        emit(
            [json.dumps(figures.as_json(), ensure_ascii=False)] if as_json else table(figures) + clients(figures, names)
        )
    except BrokenPipeError:  # `deputy stats | head`
        quiet_stdout()
    return 0


def clients(figures: Stats, names: dict[str, str]) -> list[str]:
    """Applied actions per client, busiest first (a forgotten client's id is not named)."""
    rows = sorted(figures.clients.items(), key=lambda item: -sum(item[1].values()))
    lines = [
        f"  {names[r]} ({r}): " + ", ".join(f"{n} {k}" for k, n in sorted(kinds.items()))
        for r, kinds in rows
        if r in names
    ]
    return ["", "Per client:", *lines[:20]] if lines else []


def table(figures: Stats) -> list[str]:
    since = f"since {figures.since:%Y-%m-%d %H:%M} UTC" if figures.since else "in the whole ledger"
    answered = f"; {figures.answered} request(s) answered without an action" if figures.answered else ""
    lines = [f"Proposals {since}: {figures.totals.proposed}{answered}"]
    if figures.totals.proposed:
        lines += ["", _row("", HEADINGS, "minutes", "median"), *_rows("kind", figures.kinds)]
        lines += [*_rows("playbook", figures.playbooks), _figures("all", figures.totals)]
    rules = figures.totals.auto_approved
    if rules:
        lines += ["", "Auto-approved: " + ", ".join(f"{n} by {rule}" for rule, n in sorted(rules.items()))]
    shadow = f" (shadow runs: {money(figures.shadow_usd)})" if figures.shadow_usd else ""
    lines += ["", f"Model spend: {money(figures.cost_usd)}{shadow}"]
    if figures.totals.proposed:
        lines.append("drafted: approved as drafted; changed: approved after an edit or a revise (half the minutes)")
        lines.append("caught: rejected, revised or doubted by the verifier; median: time from the card to a decision")
    return lines


def _rows(title: str, groups: dict[str, Figures]) -> list[str]:
    return [title, *(_figures(f"  {name}", f) for name, f in sorted(groups.items()))]


def _figures(name: str, f: Figures) -> str:
    counts = [f.proposed, *(f.outcomes[o] for o in OUTCOMES), f.caught]
    median = duration_text(f.median_decision_s) if f.median_decision_s is not None else "-"
    return _row(name, [str(n) for n in counts], f"{f.minutes_saved:g}", median)


def _row(name: str, cells: tuple[str, ...] | list[str], minutes: str, median: str) -> str:
    return f"{name:<18}" + "".join(f"{c:>9}" for c in cells) + f"{minutes:>9}{median:>10}"
