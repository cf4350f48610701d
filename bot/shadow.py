"""`deputy shadow`: past requests drafted again with other playbooks or another model (agents/shadow.py), and what
came out differently — a line per request, the worst differences first, then a summary; or `--json`. Exit 0 when
every request drafted to the same action, 1 when one differs or the budget stopped the run, 2 bad usage."""

from __future__ import annotations

import contextlib
import json
import sys
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from agents import playbooks
from agents.shadow import FAILED, Compared, Progress, Run, Side, past_requests, shadow
from bot.ops import emit, quiet_stdout, since_id
from bot.stats import DEFAULT_SINCE, opened, redis_faults, since_time
from bot.wiring import shadow_agent
from config.providers import missing_key
from config.settings import Settings
from orchestrator.errors import ConfigError
from orchestrator.outbound import money
from orchestrator.text import one_line

MEMORY_NOTE = "Memory is read as it is now, not as it was then; the conversation before each request is not replayed."


async def run_shadow(
    settings: Settings,
    *,
    since: str | None,
    playbooks_dir: Path | None,
    model: str | None,
    limit: int | None,
    as_json: bool,
) -> int:
    if limit is not None and limit < 1:
        raise ConfigError(f"--limit {limit}: give 1 or more")
    chosen = model or settings.llm_model
    key = missing_key(chosen, settings.llm_api_base)
    if key:
        said = f"--model {chosen}" if model else f"DEPUTY_LLM_MODEL={chosen}"
        raise ConfigError(f"{said} needs {key} in the environment or .env; nothing was drafted")
    since = since or DEFAULT_SINCE
    async with opened(settings) as runtime:
        books = load_playbooks(playbooks_dir, frozenset(runtime.connectors)) if playbooks_dir else None
        runner = shadow_agent(runtime, books=books, model=model)
        with redis_faults():
            pasts = await past_requests(runtime.ledger, runtime.redis, after=since_id(since), limit=limit)
            with progress_line() as progress:
                run = await shadow(runner, runtime.coordinator.stage, pasts, progress)
    what = header(since, playbooks_dir, model or settings.llm_model)
    try:
        emit([json.dumps(as_json_dict(run), ensure_ascii=False)] if as_json else report(run, what))
    except BrokenPipeError:  # `deputy shadow | head`
        quiet_stdout()
    return 0 if run.clean else 1


def load_playbooks(directory: Path, kinds: frozenset[str]) -> dict[str, playbooks.Playbook]:
    """Only this directory's playbooks; an invalid one is refused naming the file and the entry."""
    if not directory.is_dir():
        raise ConfigError(f"--playbooks {directory}: no such directory")
    return playbooks.load((directory,), kinds)


@contextlib.contextmanager
def progress_line() -> Iterator[Progress | None]:
    """'shadow: 12/42' updated in place on a terminal's stderr (nothing when piped), cleared at the end."""
    if not sys.stderr.isatty():
        yield None
        return

    def show(done: int, total: int) -> None:
        sys.stderr.write(f"\r\x1b[Kshadow: {done}/{total} requests drafted")
        sys.stderr.flush()

    try:
        yield show
    finally:
        sys.stderr.write("\r\x1b[K")
        sys.stderr.flush()


def header(since: str, directory: Path | None, model: str) -> str:
    start = since_time(since)
    when = f"since {start:%Y-%m-%d %H:%M} UTC" if start else "in the whole ledger"
    books = (
        f"the playbooks in {directory} (instead of the configured ones)" if directory else "the configured playbooks"
    )
    return f"Past requests {when}, drafted again with {books} and the model {model}."


def report(run: Run, what: str) -> list[str]:
    lines = [what, MEMORY_NOTE, ""]
    lines += [_line(c) for c in run.worst_first()]
    lines += ["", summary_line(run)]
    approved = [c for c in run.compared if c.approved is not None]
    if approved:
        lines.append(
            f"Against what was approved ({len(approved)}): {_tally(approved, lambda c: c.differs_from_approved)}"
        )
    if run.skipped:
        lines.append(f"{len(run.skipped)} request(s) not replayed: a /remember or /forget would change memory.")
    if run.stopped:
        lines.append(
            f"Stopped: {run.stopped}; {run.not_drafted} request(s) not drafted. Raise the cap or run again tomorrow."
        )
    lines.append("Nothing was applied, posted or staged.")
    return lines


def summary_line(run: Run) -> str:
    """ "42 requests: 39 same action, 3 differ (2 recipient, 1 playbook); cost $0.12 then → $0.04 now"."""
    then = sum(c.past.cost_usd for c in run.compared)
    now = sum(c.cost_now_usd for c in run.compared)
    count, tally = len(run.compared), _tally(run.compared, lambda c: c.differs)
    return f"{count} request{'s' if count != 1 else ''}: {tally}; cost {money(then)} then → {money(now)} now"


def _tally(compared: list[Compared], reason: Callable[[Compared], str | None]) -> str:
    reasons = Counter(reason(c) for c in compared)
    same, failed = reasons.pop("", 0), reasons.pop(FAILED, 0)
    shown = ", ".join(f"{n} {why}" for why, n in sorted(reasons.items(), key=lambda r: (-r[1], r[0])))
    tally = f"{same} same action, {sum(reasons.values())} differ" + (f" ({shown})" if shown else "")
    return tally + (f", {failed} {FAILED} now" if failed else "")


def _line(c: Compared) -> str:
    task, why = c.past.task, c.differs
    what = f"{why}: {_desc(c.then)} → {_desc(c.now)}" if why else _desc(c.now)
    verifier = ""
    if c.then.flagged != c.now.flagged:
        verifier = " · the verifier doubts it now" if c.now.flagged else " · the verifier no longer doubts it"
    mark = "FAILED" if why == FAILED else "DIFFERS" if why else "same"
    approved = f" · differs from what was approved ({c.differs_from_approved})" if c.differs_from_approved else ""
    line = f"{mark:<8} {task.id}  {what}  similarity {c.similarity:.2f}{verifier}{approved}"
    return f"{line}  “{one_line(task.text, 60)}”"


def _desc(side: Side) -> str:
    if not side.actions:
        return f"(reply: {one_line(side.reply, 90)})"
    return f"{side.playbook}: " + ", ".join(f"{kind} {to}" for kind, to in side.actions)


def as_json_dict(run: Run) -> dict[str, Any]:
    """The contract's shape, plus the comparison with what was approved and why a run stopped."""
    approved = [c for c in run.compared if c.approved is not None]
    return {
        "requests": [_request(c) for c in run.worst_first()],
        "summary": {
            "requests": len(run.compared),
            "same": sum(not c.differs for c in run.compared),
            "different": sum(bool(c.differs) for c in run.compared),
            "differences": dict(run.reasons),
            "cost_then_usd": round(sum(c.past.cost_usd for c in run.compared), 6),
            "cost_now_usd": round(sum(c.cost_now_usd for c in run.compared), 6),
            "approved": {"compared": len(approved), "different": sum(bool(c.differs_from_approved) for c in approved)},
            "not_replayed": [t.id for t in run.skipped],
            "stopped": run.stopped or None,
            "not_drafted": run.not_drafted,
            "memory": "read as it is now",
        },
    }


def _request(c: Compared) -> dict[str, Any]:
    return {
        "task": c.past.task.id,
        "text": c.past.task.text,
        "then": c.then.as_json(),
        "now": c.now.as_json(),
        "same": not c.differs,
        "differs": c.differs or None,
        "similarity": round(c.similarity, 3),
        "verifier": {"then": c.then.flagged, "now": c.now.flagged},
        "cost_then_usd": round(c.past.cost_usd, 6),
        "cost_now_usd": round(c.cost_now_usd, 6),
        "approved": c.approved.as_json() if c.approved else None,
        "same_as_approved": None if c.approved is None else not c.differs_from_approved,
    }
