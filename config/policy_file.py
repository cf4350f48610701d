"""Loading `policies.yaml` into the core's `Policies`, with errors that name the file and the entry."""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import cache
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from config import yaml_text
from orchestrator.errors import ConfigError
from orchestrator.inbox_views import COUNTED, NEEDS_REPLY
from orchestrator.kinds import Traits, minutes_saved
from orchestrator.policies import CARD_NOW, AutoRule, InboxRule, Policies, ReminderRule

DEFAULT = Path(__file__).with_name("policies.yaml")


class _Rule(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str
    kind: str
    recipient_in_memory: bool = False
    max_cost_usd: float | None = None


class _Reminder(BaseModel):
    model_config = ConfigDict(extra="forbid")
    remind_after_hours: float | None = Field(4.0, gt=0)
    expire_after_hours: float | None = Field(None, gt=0)
    at_expiry: Literal["deny", "keep", "remind"] = "keep"


TRIAGE_KINDS = (NEEDS_REPLY, *COUNTED)
_SENDER = re.compile(r"^(?:[\w.+'-]+)?@[\w-]+(?:\.[\w-]+)+$")


class _CardRule(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    name: str
    triage: str | list[str] = []
    from_client: bool | None = None
    sender: str = Field("", alias="from")

    def rule(self) -> InboxRule:
        """The core's rule, or `ValueError` saying what is wrong with this one."""
        kinds = [self.triage] if isinstance(self.triage, str) else self.triage
        if bad := [k for k in kinds if k not in TRIAGE_KINDS]:
            raise ValueError(f"triage {bad[0]!r} is not one of {', '.join(TRIAGE_KINDS)}")
        sender = self.sender.strip().lower()
        if sender and not _SENDER.match(sender):
            raise ValueError(f"from {self.sender!r} is neither an address nor @domain")
        return InboxRule(self.name, tuple(kinds), self.from_client, sender)


class _Inbox(BaseModel):
    model_config = ConfigDict(extra="forbid")
    card_now: list[_CardRule] = []


class _File(BaseModel):
    model_config = ConfigDict(extra="forbid")
    undoable: list[str] = []
    inbox: _Inbox | None = None
    auto_approve: list[_Rule] = []
    reminders: dict[str, _Reminder] = {}
    minutes_saved: dict[str, Annotated[float, Field(ge=0, le=10_000)]] = {}


def policy_path(data_dir: Path) -> Path:
    own = data_dir / "policies.yaml"
    return own if own.exists() else DEFAULT


@cache
def cached_policies(path: Path, kinds: frozenset[Traits]) -> Policies:
    """Read once per process: a work horse inherits it from its worker instead of parsing YAML per job."""
    return load_policies(path, kinds)


def load_policies(path: Path, kinds: Iterable[Traits]) -> Policies:
    """The file's policies for the installed kinds (their connectors' traits): a kind it doesn't know is an error,
    and a kind it gives no minutes saved keeps its connector's."""
    kinds = tuple(kinds)
    known_kinds = {t.kind for t in kinds}
    try:
        raw: Any = yaml_text.parse(path.read_text()) or {}
        parsed = _File.model_validate(raw)
    except (OSError, yaml.YAMLError) as err:
        raise ConfigError(f"can't read policies from {path}: {err}") from None
    except ValidationError as err:
        first = err.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise ConfigError(f"{path}: {where}: {first['msg']}") from None
    unknown = (
        (
            {r.kind for r in parsed.auto_approve}
            | set(parsed.undoable)
            | set(parsed.reminders)
            | set(parsed.minutes_saved)
        )
        - known_kinds
        - {"default"}
    )
    if unknown:
        raise ConfigError(
            f"{path}: unknown action kind {', '.join(sorted(unknown))}; known: {', '.join(sorted(known_kinds))}"
        )
    if held := sorted(t.kind for t in kinds if t.kind in parsed.undoable and not t.undoable):
        raise ConfigError(f"{path}: undoable: {', '.join(held)} can't be held back with Undo")
    rules = tuple(AutoRule(r.name, r.kind, r.recipient_in_memory, r.max_cost_usd) for r in parsed.auto_approve)
    reminders = {kind: ReminderRule(**r.model_dump()) for kind, r in parsed.reminders.items()}
    default = reminders.pop("default", ReminderRule())
    return Policies(
        card_now=_card_now(path, parsed.inbox),
        auto_approve=rules,
        undoable=frozenset(parsed.undoable),
        reminders=tuple(sorted(reminders.items())),
        default_reminder=default,
        minutes_saved=tuple(sorted({**minutes_saved(kinds), **parsed.minutes_saved}.items())),
    )


def _card_now(path: Path, inbox: _Inbox | None) -> tuple[InboxRule, ...]:
    """The `inbox:` section's rules (none: only mail that needs a reply is carded), each checked by name."""
    if inbox is None:
        return CARD_NOW
    found = []
    for i, rule in enumerate(inbox.card_now):
        try:
            found.append(rule.rule())
        except ValueError as err:
            raise ConfigError(f"{path}: inbox.card_now.{i} ({rule.name}): {err}") from None
    return tuple(found)
