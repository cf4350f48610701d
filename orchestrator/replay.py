"""Rebuild task and proposal state from the ledger by folding events, and compare it with the stores.
Each event names the status it leads to, so the fold needs no knowledge of the handlers."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from orchestrator.events import Event


@dataclass
class Rebuilt:
    tasks: dict[str, str] = field(default_factory=dict)
    proposals: dict[str, str] = field(default_factory=dict)
    actions: dict[str, str] = field(default_factory=dict)
    records: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Clients and projects: their fields, from RecordCreated/RecordChanged, less the merged and forgotten."""


def fold(events: Iterable[Event], state: Rebuilt | None = None) -> Rebuilt:
    """The state the events lead to (from `state`, for a ledger read a batch at a time)."""
    state = state or Rebuilt()
    for event in events:
        if event.type.startswith("Record"):
            _record(state.records, event)
            continue
        if event.task_status:
            state.tasks[event.task_id] = event.task_status
        if event.proposal_id and event.proposal_status:
            state.proposals[event.proposal_id] = event.proposal_status
        if event.type == "ProposalStaged":
            for index in range(len(event.detail.get("actions", []))):
                state.actions[f"{event.proposal_id}:{index}"] = "staged"
        if event.proposal_id and event.action_index is not None and event.action_status:
            state.actions[f"{event.proposal_id}:{event.action_index}"] = event.action_status
    return state


def _record(records: dict[str, dict[str, Any]], event: Event) -> None:
    record = str(event.detail.get("record", ""))
    if event.type in ("RecordCreated", "RecordChanged"):
        fields = records.setdefault(record, {})
        for change in event.detail.get("changes", []):
            fields[change["field"]] = change["new"]
            if change["new"] in ("", [], None):
                fields.pop(change["field"])
    elif event.type == "RecordMerged":
        records.pop(str(event.detail.get("other", "")), None)
    elif event.type == "RecordForgotten":
        records.pop(record, None)


def differences(rebuilt: Rebuilt, stored: Rebuilt) -> list[str]:
    """One line per id whose stored status differs from what the ledger says (or that only one side has)."""
    lines: list[str] = []
    for what, ledger_side, store_side in (
        ("task", rebuilt.tasks, stored.tasks),
        ("proposal", rebuilt.proposals, stored.proposals),
        ("action", rebuilt.actions, stored.actions),
    ):
        for key in sorted(set(ledger_side) | set(store_side)):
            a, b = ledger_side.get(key, "(absent)"), store_side.get(key, "(absent)")
            if a != b:
                lines.append(f"{what} {key}: ledger says {a}, store says {b}")
    return lines + _records(rebuilt.records, stored.records)


def _records(ledger: dict[str, dict[str, Any]], store: dict[str, dict[str, Any]]) -> list[str]:
    """Which fields differ, not their values: a record's values are a person's data."""
    lines = []
    for key in sorted(set(ledger) | set(store)):
        mine, theirs = ledger.get(key), store.get(key)
        if mine is None or theirs is None:
            lines.append(f"record {key}: only the {'store' if mine is None else 'ledger'} has it")
        elif mine != theirs:
            names = sorted(n for n in set(mine) | set(theirs) if mine.get(n) != theirs.get(n))
            lines.append(f"record {key}: the ledger and the store differ in {', '.join(names)}")
    return lines
