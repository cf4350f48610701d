"""Playbooks as data (config/playbooks/*.yaml, plus any file the operator drops into
`$DEPUTY_DATA_DIR/playbooks/`). A playbook fixes, in trusted configuration, what a model may never decide:
which action kinds a task stages (one, `action:`, or several in order, `actions:`), which fields the model fills,
how they become each connector's fields and where a recipient may come from. The model only fills in the
fields; `check()` holds its output to that shape (docs/playbooks.md)."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cache, cached_property
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, create_model, field_validator, model_validator

from agents.triage_rules import CONDITIONS, TriageRule
from config import yaml_text
from orchestrator.errors import BadRequest, ConfigError, DraftInvalid
from orchestrator.ports import Connector

BUILT_IN = Path(__file__).resolve().parent.parent / "config" / "playbooks"
RESERVED_KINDS = frozenset({"budget.raise"})
INBOX = "inbox"
"""The playbook that sorts each email the inbox receives (its `triage:` rules) and drafts a reply to one that needs
it: never chosen for a chat request."""
FieldType = Literal["email", "line", "text", "name"]
_EMAIL = re.compile(r"^[^@\s<>,;]+@[^@\s<>,;]+\.[A-Za-z]{2,}$")
_NAME = re.compile(r"^[\w-]{1,64}$")
_PLACEHOLDER = re.compile(r"\{(\w+)\}")
Ready = Callable[[str, dict[str, Any]], bool]
"""Whether a connector takes an action's fixed fields (an optional action is left out where it doesn't)."""


class FieldSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    type: FieldType = "text"
    max: int = Field(4000, ge=1, le=100_000)
    source: Literal["request", "request_or_memory"] | None = Field(None, alias="from")
    description: str = ""


class ActionSpec(BaseModel):
    """One action of a playbook: its kind, fixed here; `shape` makes the model's fields the connector's fields
    (`'{to}'` is the field `to`; anything else is fixed); `optional` leaves it out where its connector refuses
    the fixed part (a `webhook.post` to `crm` where no webhook named crm is configured)."""

    model_config = ConfigDict(extra="forbid")

    kind: str
    shape: dict[str, Any] | None = None
    optional: bool = False

    def uses(self, fields: dict[str, FieldSpec]) -> set[str]:
        """The model's fields this action takes: those its shape names, or all of them without a shape."""
        return set(placeholders(self.shape)) if self.shape else set(fields)


class PlaybookFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=r"^[a-z][a-z0-9_-]{0,31}$")
    description: str = Field(min_length=1, max_length=300)
    triggers: list[str] = []
    steps: list[Literal["classify", "retrieve", "draft", "verify"]] = ["classify", "retrieve", "draft"]
    action: str | None = None
    actions: list[ActionSpec] | None = Field(None, min_length=1)
    risk: Literal["low", "medium", "high"] = "medium"
    approval: Literal["ask", "policy"] = "policy"
    instructions: str = ""
    fields: dict[str, FieldSpec] = Field(min_length=1)
    shape: dict[str, Any] | None = None
    clock: bool = False
    """The prompt says the operator's local date and time, so the model can turn "tomorrow at 9" into a time."""
    calendar: bool = False
    """The retrieve step adds the coming week's calendar events to what the draft may draw on (agents/agenda.py)."""
    triage: list[TriageRule] | None = None
    """The inbox playbook's rules, in order (agents/triage_rules.py); only it has them, and it must."""

    @model_validator(mode="after")
    def _one_way(self) -> PlaybookFile:
        """`action:` (and `shape:`) names one kind, null for a playbook that only answers; `actions:` lists several."""
        if self.actions is not None and ({"action", "shape"} & self.model_fields_set):
            raise ValueError("give either `action:` (and `shape:`) or a list of `actions:`, not both")
        if self.actions is None and "action" not in self.model_fields_set:
            raise ValueError("action: name its kind (e.g. email.send), null for answers only, or list `actions:`")
        for number, spec in enumerate(self.staging, 1):
            if unknown := set(placeholders(spec.shape)) - set(self.fields):
                raise ValueError(f"action {number} ({spec.kind}) uses {sorted(unknown)}, which are not in fields")
        if (self.triage is None) == (self.name == INBOX):
            raise ValueError(f"triage: rules belong to the playbook named {INBOX}, which needs them")
        return self

    @property
    def staging(self) -> list[ActionSpec]:
        """The actions a draft stages, in order (none for a playbook that only answers)."""
        if self.actions is not None:
            return self.actions
        return [ActionSpec(kind=self.action, shape=self.shape)] if self.action else []

    @field_validator("triggers")
    @classmethod
    def _compiles(cls, value: list[str]) -> list[str]:
        for pattern in value:
            try:
                re.compile(pattern)
            except re.error as err:
                raise ValueError(f"trigger {pattern!r} is not a valid regular expression: {err}") from None
        return value


@dataclass(frozen=True, eq=False)
class Playbook:
    """Hashed by identity: the loaded ones are cached per file change, and so are their fitted copies."""

    spec: PlaybookFile
    path: Path

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def action(self) -> str | None:
        """The first action's kind; None for a playbook that only answers."""
        return self.spec.staging[0].kind if self.spec.staging else None

    @property
    def kinds(self) -> list[str]:
        return [a.kind for a in self.spec.staging]

    @property
    def chat(self) -> bool:
        """Chosen for a chat request: any playbook but the inbox's."""
        return self.spec.triage is None

    def fitted(self, ready: Ready) -> Playbook:
        """This playbook as this deployment can stage it: optional actions whose connector refuses their fixed
        fields are left out, and so are the fields only they used (the model is not asked for them)."""
        kept = tuple(i for i, a in enumerate(self.spec.staging) if not a.optional or ready(a.kind, _sample(a)))
        return self if len(kept) == len(self.spec.staging) else _fitted(self, kept)

    def triggered_by(self, text: str) -> bool:
        return any(re.search(p, text, re.I | re.S) for p in self.spec.triggers)

    @cached_property
    def draft_model(self) -> type[BaseModel]:
        return _draft_model(self)

    def check(self, data: Any, request: str, memory: str = "", recent: str = "") -> Drafted:
        """Validate a model's draft; raises `DraftInvalid` with a message fit to send back for one repair.
        A model that lacks what the fields need may ask the operator instead (`{"question": …}`)."""
        if isinstance(data, dict) and str(data.get("question") or "").strip() and not data.get("fields"):
            return Drafted("", 0.0, {}, question=" ".join(str(data["question"]).split())[:500])
        try:
            parsed = self.draft_model.model_validate(data)
        except ValidationError as err:
            raise DraftInvalid(_errors(err)) from None
        fields: dict[str, Any] = parsed.model_dump()["fields"]
        for name, spec in self.spec.fields.items():
            fields[name] = _clean(name, spec, fields[name], request, _linked(memory, request) + "\n" + recent)
        return Drafted(str(getattr(parsed, "summary", "")), float(getattr(parsed, "confidence", 1.0)), fields)

    def action_fields(self, fields: dict[str, Any]) -> dict[str, Any]:
        """The first action's connector fields (a playbook of one action)."""
        return self.staged(fields)[0][1]

    def staged(self, fields: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
        """Each action's kind and connector fields: its `shape` filled in, or the fields as drafted."""
        return [(a.kind, _fill(a.shape, fields) if a.shape else dict(fields)) for a in self.spec.staging]

    def drafted_fields(self, actions: list[tuple[str, dict[str, Any]]]) -> dict[str, Any]:
        """The model's fields back out of staged actions (what a revision starts from): each shape read in
        reverse. `DraftInvalid` when the actions are not this playbook's (other kinds, another count)."""
        specs = self.spec.staging
        if [kind for kind, _ in actions] != [a.kind for a in specs]:
            raise DraftInvalid(f"the proposal's actions are not those of playbook {self.name}")
        found: dict[str, Any] = {}
        for spec, (_, fields) in zip(specs, actions, strict=True):
            found.update(_unfill(spec.shape, fields) if spec.shape else fields)
        return {name: str(found.get(name, "")) for name in self.spec.fields}


@dataclass(frozen=True)
class Drafted:
    summary: str
    confidence: float
    fields: dict[str, Any]
    question: str = ""


def _clean(name: str, spec: FieldSpec, value: str, request: str, memory: str) -> str:
    value = value.strip() if spec.type != "text" else value.rstrip()
    if spec.type == "line":
        value = " ".join(value.split())
    if spec.type == "email" and not _EMAIL.match(value):
        raise DraftInvalid(f"`{name}`: {value!r} is not a valid email address")
    if spec.type == "name" and not _NAME.match(value):
        raise DraftInvalid(f"`{name}` must be a single name (letters, digits, - or _), got {value!r}")
    if not value:
        raise DraftInvalid(f"`{name}` is empty")
    if len(value) > spec.max:
        raise DraftInvalid(f"`{name}` is longer than {spec.max} characters")
    allowed = request if spec.source == "request" else f"{request}\n{memory}"
    if spec.source and value.lower() not in allowed.lower():
        where = "the request" if spec.source == "request" else "the request or memory"
        raise DraftInvalid(f"`{name}` must be taken from {where}; {value!r} appears in neither")
    return value


def _linked(memory: str, request: str) -> str:
    """The memory lines a recipient may come from: those naming someone the request names. A remembered fact
    that merely contains an address (or an instruction to use one) can't redirect a draft."""
    named = {w.lower() for w in re.findall(r"[A-Za-z][\w.+-]{2,}", request)}
    keep = []
    for line in memory.splitlines():
        names = {w.lower() for w in re.findall(r"\b[A-Z][a-z]{2,}\b", line)}
        locals_ = {a.split("@")[0].lower() for a in re.findall(r"[\w.+-]+@[\w-]+", line)}
        if (names | locals_) & named:
            keep.append(line)
    return "\n".join(keep)


def _fill(shape: Any, fields: dict[str, Any]) -> Any:
    if isinstance(shape, dict):
        return {k: _fill(v, fields) for k, v in shape.items()}
    if isinstance(shape, str):
        match = _PLACEHOLDER.fullmatch(shape)
        return fields[match[1]] if match else shape
    return shape


def _unfill(shape: Any, value: Any) -> dict[str, Any]:
    """The fields a filled-in shape holds: where the shape says `'{x}'`, the value there is `x`."""
    if isinstance(shape, dict) and isinstance(value, dict):
        found: dict[str, Any] = {}
        for key, inner in shape.items():
            found.update(_unfill(inner, value.get(key)))
        return found
    match = _PLACEHOLDER.fullmatch(shape) if isinstance(shape, str) else None
    return {match[1]: value} if match and value is not None else {}


def placeholders(shape: Any) -> list[str]:
    """The fields a shape names, in order."""
    if isinstance(shape, dict):
        return [name for inner in shape.values() for name in placeholders(inner)]
    match = _PLACEHOLDER.fullmatch(shape) if isinstance(shape, str) else None
    return [match[1]] if match else []


def _sample(action: ActionSpec) -> dict[str, Any]:
    """An action's fields with a stand-in for each of the model's: what its connector says of the fixed part."""
    return _fill(action.shape, {name: "…" for name in placeholders(action.shape)}) if action.shape else {}


@cache
def _fitted(playbook: Playbook, kept: tuple[int, ...]) -> Playbook:
    actions = [a for i, a in enumerate(playbook.spec.staging) if i in kept]
    used = set().union(*(a.uses(playbook.spec.fields) for a in actions)) if actions else set()
    dropped = set().union(*(a.uses(playbook.spec.fields) for a in playbook.spec.staging)) - used
    fields = {name: spec for name, spec in playbook.spec.fields.items() if name not in dropped}
    spec = playbook.spec.model_copy(update={"actions": actions, "fields": fields})
    return Playbook(spec, playbook.path)


def _errors(err: ValidationError) -> str:
    parts = []
    for e in err.errors()[:5]:
        where = ".".join(str(x) for x in e["loc"]) or "the answer"
        parts.append(_unknown_condition(e["loc"]) or f"{where}: {e['msg']}")
    return "; ".join(parts)


def _unknown_condition(loc: tuple[int | str, ...]) -> str:
    """`triage.2: unknown condition 'colour'`, with the ones there are, for a key a triage rule doesn't have."""
    if len(loc) != 3 or loc[0] != "triage" or loc[2] in ("kind", *CONDITIONS):
        return ""
    return f"triage.{loc[1]}: unknown condition {loc[2]!r} (kind, then any of {', '.join(CONDITIONS)})"


def _draft_model(playbook: Playbook) -> type[BaseModel]:
    """`{"summary", "confidence", "fields": {...}}` with exactly the playbook's fields: anything else — another
    action kind, a second action, an approval flag — fails validation."""
    strict = ConfigDict(extra="forbid")
    field_defs: dict[str, Any] = {name: (str, ...) for name in playbook.spec.fields}
    inner = create_model(f"{playbook.name.title()}Fields", __config__=strict, **field_defs)
    return create_model(
        f"{playbook.name.title()}Draft",
        __config__=strict,
        summary=(str, Field("", max_length=300)),
        confidence=(float, Field(1.0, ge=0, le=1)),
        fields=(inner, ...),
    )


def load(directories: tuple[Path, ...], action_kinds: frozenset[str]) -> dict[str, Playbook]:
    """Built-in playbooks first; a file with the same name in a later directory replaces one."""
    found: dict[str, Playbook] = {}
    for directory in directories:
        for path in sorted(directory.glob("*.yaml")) if directory.is_dir() else []:
            playbook = read(path)
            for kind in playbook.kinds:
                if kind in RESERVED_KINDS or kind not in action_kinds:
                    known = ", ".join(sorted(action_kinds - RESERVED_KINDS))
                    raise ConfigError(f"playbook {path}: action {kind!r} is not one a playbook can stage ({known})")
            found[playbook.name] = playbook
    if not found:
        raise ConfigError(f"no playbooks found in {', '.join(map(str, directories))}")
    return found


def read(path: Path) -> Playbook:
    try:
        raw = yaml_text.parse(path.read_text(encoding="utf-8"))
        return Playbook(PlaybookFile.model_validate(raw), path)
    except (OSError, yaml.YAMLError) as err:
        raise ConfigError(f"playbook {path}: {err}") from None
    except ValidationError as err:
        raise ConfigError(f"playbook {path}: {_errors(err)}") from None


def takes(connectors: Mapping[str, Connector]) -> Ready:
    """`Ready` for these connectors: the kind is installed and its connector validates the fields."""

    def ready(kind: str, fields: dict[str, Any]) -> bool:
        connector = connectors.get(kind)
        if connector is None:
            return False
        try:
            connector.validate(fields)
        except BadRequest:
            return False
        return True

    return ready


def directories(data_dir: Path) -> tuple[Path, ...]:
    return (BUILT_IN, data_dir / "playbooks")


def by_triggers(playbooks: dict[str, Playbook], text: str) -> Playbook | None:
    """The first playbook whose trigger matches — those that stage an action before those that only answer
    ("can you email …?" is an email) — free, deterministic, no model call."""
    ordered = sorted((p for p in playbooks.values() if p.chat), key=lambda p: p.action is None)
    return next((p for p in ordered if p.triggered_by(text)), None)


def cached(directories: tuple[Path, ...], kinds: frozenset[str]) -> dict[str, Playbook]:
    """Read again only when a file changes: a job builds its runtime each time, and a dropped-in playbook is
    picked up by the next task."""
    stamp = tuple((str(p), p.stat().st_mtime_ns) for d in directories if d.is_dir() for p in sorted(d.glob("*.yaml")))
    return _loaded(directories, kinds, stamp)


@cache
def _loaded(
    directories: tuple[Path, ...], kinds: frozenset[str], stamp: tuple[tuple[str, int], ...]
) -> dict[str, Playbook]:
    return load(directories, kinds)
