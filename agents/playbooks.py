"""Playbooks as data (config/playbooks/*.yaml, plus any file the operator drops into
`$DEPUTY_DATA_DIR/playbooks/`). A playbook fixes, in trusted configuration, what a model may never decide:
which single action kind a task can stage, which fields it fills and where a recipient may come from. The
model only fills in the fields; `check()` holds its output to that shape (docs/playbooks.md)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache, cached_property
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, create_model, field_validator

from orchestrator.errors import ConfigError, DraftInvalid

BUILT_IN = Path(__file__).resolve().parent.parent / "config" / "playbooks"
RESERVED_KINDS = frozenset({"budget.raise"})
FieldType = Literal["email", "line", "text", "name"]
_EMAIL = re.compile(r"^[^@\s<>,;]+@[^@\s<>,;]+\.[A-Za-z]{2,}$")
_NAME = re.compile(r"^[\w-]{1,64}$")


class FieldSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    type: FieldType = "text"
    max: int = Field(4000, ge=1, le=100_000)
    source: Literal["request", "request_or_memory"] | None = Field(None, alias="from")
    description: str = ""


class PlaybookFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=r"^[a-z][a-z0-9_-]{0,31}$")
    description: str = Field(min_length=1, max_length=300)
    triggers: list[str] = []
    steps: list[Literal["classify", "retrieve", "draft", "verify"]] = ["classify", "retrieve", "draft"]
    action: str | None
    risk: Literal["low", "medium", "high"] = "medium"
    approval: Literal["ask", "policy"] = "policy"
    instructions: str = ""
    fields: dict[str, FieldSpec] = Field(min_length=1)
    shape: dict[str, Any] | None = None

    @field_validator("triggers")
    @classmethod
    def _compiles(cls, value: list[str]) -> list[str]:
        for pattern in value:
            try:
                re.compile(pattern)
            except re.error as err:
                raise ValueError(f"trigger {pattern!r} is not a valid regular expression: {err}") from None
        return value


@dataclass(frozen=True)
class Playbook:
    spec: PlaybookFile
    path: Path

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def action(self) -> str | None:
        return self.spec.action

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
        """The connector's fields: the playbook's `shape` filled in, or the fields as drafted."""
        return _fill(self.spec.shape, fields) if self.spec.shape else dict(fields)


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
        match = re.fullmatch(r"\{(\w+)\}", shape)
        return fields[match[1]] if match else shape
    return shape


def _errors(err: ValidationError) -> str:
    parts = []
    for e in err.errors()[:5]:
        where = ".".join(str(x) for x in e["loc"]) or "the answer"
        parts.append(f"{where}: {e['msg']}")
    return "; ".join(parts)


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
            playbook = _read(path)
            kind = playbook.action
            if kind in RESERVED_KINDS or (kind is not None and kind not in action_kinds):
                known = ", ".join(sorted(action_kinds - RESERVED_KINDS))
                raise ConfigError(f"playbook {path}: action {kind!r} is not one a playbook can stage ({known})")
            found[playbook.name] = playbook
    if not found:
        raise ConfigError(f"no playbooks found in {', '.join(map(str, directories))}")
    return found


def _read(path: Path) -> Playbook:
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
        return Playbook(PlaybookFile.model_validate(raw), path)
    except (OSError, yaml.YAMLError) as err:
        raise ConfigError(f"playbook {path}: {err}") from None
    except ValidationError as err:
        raise ConfigError(f"playbook {path}: {_errors(err)}") from None


def directories(data_dir: Path) -> tuple[Path, ...]:
    return (BUILT_IN, data_dir / "playbooks")


def by_triggers(playbooks: dict[str, Playbook], text: str) -> Playbook | None:
    """The first playbook whose trigger matches — those that stage an action before those that only answer
    ("can you email …?" is an email) — free, deterministic, no model call."""
    ordered = sorted(playbooks.values(), key=lambda p: p.action is None)
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
