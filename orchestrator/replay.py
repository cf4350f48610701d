"""Rebuild task and proposal state from the ledger by folding events, and compare it with the stores.
Each event names the status it leads to, so the fold needs no knowledge of the handlers."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from orchestrator.events import Event


@dataclass
class Rebuilt:
    tasks: dict[str, str] = field(default_factory=dict)
    proposals: dict[str, str] = field(default_factory=dict)
    actions: dict[str, str] = field(default_factory=dict)


def fold(events: Iterable[Event]) -> Rebuilt:
    state = Rebuilt()
    for event in events:
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
    return lines
