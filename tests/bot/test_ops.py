"""`deputy replay` and `deputy ledger` against a real redis-server: agreement and each difference, the fold batch by
batch, records found over many SCAN steps, every line printed, and a reader that leaves after one line."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from bot import ops
from bot.wiring import Runtime
from memory import keys
from memory.ledger import BATCH
from orchestrator.events import Event, ModelCalled
from orchestrator.model import ActionStatus, Decision, Proposal, StagedAction, Task, TaskStatus, Verdict
from orchestrator.ports import Record
from orchestrator.replay import fold
from tests.conftest import deputy
from tests.orchestrator.conftest import CONSOLE, ME

AT = datetime(2026, 11, 3, 9, 0, tzinfo=UTC)


def applied(n: int) -> tuple[list[Record], list[Event]]:
    """Task n from submission to one email sent, through the model's own methods: nine events."""
    at = AT + timedelta(seconds=n)
    task = Task(f"t{n:05d}", f"email client{n}", ME, CONSOLE, f"ev{n}", at)
    action = StagedAction("email", {"to": f"c{n}@example.com"}, f"Email c{n}@example.com", f"c{n}@example.com")
    proposal = Proposal(task.id, task.id, CONSOLE, "email", f"Send invoice {n}", [action], at)
    events = [task.submitted(at), task.start(at), ModelCalled(at=at, task_id=task.id, cost_usd=0.0002)]
    events += [task.propose(proposal, at), task.decide(proposal, Decision(Verdict.APPROVE, ME, at, proposal.version))]
    events += [e for e in [task.applying(at)] if e]
    events += [proposal.action_moved(0, s, at, "250 OK") for s in (ActionStatus.APPLYING, ActionStatus.APPLIED)]
    return [task, proposal], [*events, task.finish(at, "sent 1 email")]


async def bare_xrange(runtime: Runtime, key: str) -> list[tuple[str, dict[str, str]]]:
    rows: Any = await runtime.redis.xrange(key)
    return [(entry_id, fields) for entry_id, fields in rows]


async def commit(runtime: Runtime, tasks: int) -> list[Event]:
    written: list[Event] = []
    for n in range(tasks):
        records, events = applied(n)
        await runtime.store.commit(records, events)
        written += events
    return written


async def test_replay_reports_agreement_then_each_difference(
    runtime: Runtime, env: dict[str, str], tmp_path: Path
) -> None:
    await commit(runtime, 150)
    agree = deputy("replay", env=env, cwd=tmp_path)
    assert agree.returncode == 0, agree.stdout
    assert agree.stdout == "The ledger and the stores agree: 150 tasks, 150 proposals, 150 actions.\n"
    task = await runtime.store.get_task("t00007")
    assert task is not None
    task.status = TaskStatus.FAILED
    await runtime.store.commit([task], [])
    await runtime.redis.delete(keys.record("proposal", "t00042"))
    differ = deputy("replay", env=env, cwd=tmp_path)
    assert differ.returncode == 1
    assert differ.stdout.splitlines() == [
        "task t00007: ledger says done, store says failed",
        "proposal t00042: ledger says approved, store says (absent)",
        "action t00042:0: ledger says applied, store says (absent)",
        "3 difference(s) between the ledger and the stores (150 tasks, 150 proposals, 150 actions in the ledger).",
    ]


async def test_the_fold_batch_by_batch_equals_one_fold(runtime: Runtime) -> None:
    written = await commit(runtime, 150)
    assert len(written) > BATCH and BATCH % 9  # a task's events straddle the batch boundary
    assert await ops.ledger_state(runtime.ledger) == fold(written)


async def test_records_are_found_over_many_scan_steps(runtime: Runtime, monkeypatch: pytest.MonkeyPatch) -> None:
    written = await commit(runtime, 150)
    monkeypatch.setattr(ops, "SCAN_COUNT", 7)
    assert await ops.records_state(runtime.redis) == fold(written)


async def test_ledger_prints_every_entry_in_order(runtime: Runtime, capsys: pytest.CaptureFixture[str]) -> None:
    await commit(runtime, 150)
    await ops.print_ledger(runtime.ledger, after="0", follow=False, as_json=False)
    raw = await bare_xrange(runtime, keys.LEDGER)
    assert capsys.readouterr().out.splitlines() == [ops.line(i, f, False) for i, f in raw]
    await ops.print_ledger(runtime.ledger, after=raw[99][0], follow=False, as_json=True)
    assert capsys.readouterr().out.splitlines() == [ops.line(i, f, True) for i, f in raw[100:]]


@pytest.mark.parametrize("flags", [[], ["--json"]])
async def test_a_reader_that_leaves_after_one_line_ends_it_quietly(
    runtime: Runtime, env: dict[str, str], tmp_path: Path, flags: list[str]
) -> None:
    await commit(runtime, 300)  # 2,700 lines: far more than a pipe holds, so the reader leaves mid-write
    process = subprocess.Popen(
        [sys.executable, "-m", "bot.cli", "ledger", *flags],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert process.stdout is not None
    first = process.stdout.readline()
    process.stdout.close()
    _, stderr = process.communicate(timeout=60)
    assert first.strip() and stderr.decode() == ""
    assert process.returncode == 0


def test_a_ledger_line_keeps_its_columns_whatever_the_actor() -> None:
    from bot.ops import line

    def row(actor: str) -> str:
        fields = {"at": "2026-12-06T12:00:00", "type": "ProposalApproved", "task": "t1", "proposal": "p1"}
        return line("1-0", {**fields, "actor": actor, "cost_usd": "0", "summary": "ok"}, as_json=False)

    rows = [row(a) for a in ("you", "policy:notes-always", "plugin:a-very-long-actor-name-indeed")]
    assert len({r.index("$0.0000") for r in rows}) == 1, rows


def test_replays_read_turns_cycle_collection_back_on_even_when_it_fails() -> None:
    import gc

    assert gc.isenabled()
    with pytest.raises(RuntimeError), ops.without_cycle_collection():
        assert not gc.isenabled()
        raise RuntimeError("Redis went away")
    assert gc.isenabled()
