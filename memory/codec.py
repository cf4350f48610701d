"""JSON for the core's dataclasses, via pydantic, so the core itself stays free of serialization code."""

from __future__ import annotations

import json
from typing import Any, NotRequired, TypeVar

from pydantic import TypeAdapter
from typing_extensions import TypedDict

from orchestrator.events import EVENT_TYPES, Event
from orchestrator.model import Proposal, Task

T = TypeVar("T")


_ADAPTERS: dict[type[Any], TypeAdapter[Any]] = {}


def _adapter(cls: type[Any]) -> TypeAdapter[Any]:
    if cls not in _ADAPTERS:
        _ADAPTERS[cls] = TypeAdapter(cls)
    return _ADAPTERS[cls]


def warm() -> None:
    """Build every adapter now: a forking worker calls this once so its work horses inherit them ready."""
    for cls in (Task, Proposal, *EVENT_TYPES.values()):
        _adapter(cls)


def dump(obj: Any) -> str:
    return _adapter(type(obj)).dump_json(obj).decode()


def load(cls: type[T], raw: str | bytes) -> T:
    result: T = _adapter(cls).validate_json(raw)
    return result


def load_record(kind: str, raw: str | bytes) -> Task | Proposal:
    if kind == "task":
        return load(Task, raw)
    return load(Proposal, raw)


class _Status(TypedDict):
    status: str


class _Statuses(TypedDict):
    id: str
    status: str
    actions: NotRequired[list[_Status] | None]


def statuses(raw: str | bytes) -> tuple[str, str, list[str]]:
    """A stored task's or proposal's id, status and (a proposal's) action statuses, read from its JSON without
    building the whole record: `deputy replay` compares only these, for every record there is. pydantic makes
    Python objects of these fields alone (2.3 µs a proposal, against 6.1 µs for `json.loads` of all of it)."""
    data: _Statuses = _adapter(_Statuses).validate_json(raw)
    return data["id"], data["status"], [a["status"] for a in data.get("actions") or ()]


def text(value: str | bytes | None) -> str:
    """redis-py types every reply as bytes-or-str; Deputy's clients decode, this makes it explicit."""
    if value is None:
        return ""
    return value.decode() if isinstance(value, bytes) else value


def event_fields(event: Event) -> dict[str, str]:
    """The flat stream entry: readable fields for `deputy ledger` plus `data` for an exact rebuild."""
    return {
        "type": event.type,
        "at": event.at.isoformat(),
        "task": event.task_id,
        "proposal": event.proposal_id or "",
        "actor": event.actor or "",
        "cost_usd": f"{event.cost_usd:.6f}",
        "summary": event.summary,
        "kind": str(event.detail.get("kind", "")) if event.action_index is not None else "",
        "data": dump(event),
    }


def event_from_fields(fields: dict[str, str]) -> Event:
    return event_from_json(fields["type"], fields["data"])


def event_from_json(kind: str, data: str | bytes) -> Event:
    """pydantic's validator, ~3 µs an event: as fast as `json.loads` alone, and faster than building the
    dataclass from it in Python (~4.6 µs), so the exact path is also the quick one. Bytes as read do as well."""
    return load(EVENT_TYPES[kind], data)


def event_json(entry_id: str, fields: dict[str, str]) -> str:
    data = json.loads(fields["data"])
    return json.dumps({"id": entry_id, "type": fields["type"], **data}, ensure_ascii=False)
