"""Clients and projects: the canonical records every task, email and decision hangs on. Pure rules only — the
fields a record holds, how a value is checked, which fixed keys find a record, what a change, a merge or a
forget does. Storage is a port (`RecordBook`); nothing here reads a store or guesses.

Every field change is a `Change` with its source (who, from which message or task, when), so a record's history
is readable and the ledger can rebuild it. Records are found only by fixed keys — an email address, a domain, an
exact name or alias — never by a model's judgement; two records become one only by `/merge`."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from orchestrator.errors import BadRequest
from orchestrator.events import Event, RecordChanged, RecordCreated

Kind = Literal["client", "project"]
KINDS: tuple[Kind, ...] = ("client", "project")
FieldType = Literal["line", "text", "emails", "domain", "list", "choice", "date"]
FREE_MAIL = frozenset(
    {
        "gmail.com",
        "googlemail.com",
        "outlook.com",
        "hotmail.com",
        "yahoo.com",
        "icloud.com",
        "proton.me",
        "protonmail.com",
        "gmx.com",
        "gmx.de",
        "live.com",
        "aol.com",
        "wp.pl",
        "o2.pl",
    }
)
"""Addresses at these domains say nothing about a company: they give a client no domain key."""
_EMAIL = re.compile(r"^[\w.+'-]+@[\w-]+(?:\.[\w-]+)+$")
_DOMAIN = re.compile(r"^(?:[a-z0-9-]+\.)+[a-z]{2,}$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


@dataclass(frozen=True)
class Spec:
    """One field: its type, the values a choice allows, and the words a typed edit may call it by."""

    type: FieldType = "line"
    choices: tuple[str, ...] = ()
    names: tuple[str, ...] = ()


CLIENT: dict[str, Spec] = {
    "name": Spec(),
    "emails": Spec("emails", names=("email", "address", "mail")),
    "domain": Spec("domain", names=("website", "site")),
    "phone": Spec(names=("tel", "telephone")),
    "company": Spec(names=("org", "organisation", "organization")),
    "role": Spec(names=("title",)),
    "status": Spec("choice", ("lead", "active", "past")),
    "terms": Spec(names=("payment", "payment_terms")),
    "rate": Spec(),
    "tags": Spec("list", names=("tag",)),
    "aliases": Spec("list", names=("alias", "aka")),
    "notes": Spec("text", names=("note",)),
}
PROJECT: dict[str, Spec] = {
    "name": Spec(),
    "client": Spec(),
    "status": Spec("choice", ("active", "paused", "done")),
    "due": Spec("date", names=("deadline",)),
    "value": Spec(names=("budget", "price")),
    "next_step": Spec(names=("next",)),
    "notes": Spec("text", names=("note",)),
}


@dataclass(frozen=True)
class Schema:
    """The fields of each kind: the built-in ones plus those `DEPUTY_DATA_DIR/records.yaml` declares."""

    client: Mapping[str, Spec] = field(default_factory=lambda: dict(CLIENT))
    project: Mapping[str, Spec] = field(default_factory=lambda: dict(PROJECT))

    def of(self, kind: str) -> Mapping[str, Spec]:
        return self.project if kind == "project" else self.client

    def field_name(self, kind: str, word: str) -> str | None:
        """The field a typed word means (`email` → emails, `next` → next_step), or None."""
        word = word.lower().replace("-", "_")
        return next((n for n, s in self.of(kind).items() if word == n or word in s.names), None)

    def with_extra(self, kind: str, extra: Mapping[str, Spec]) -> Schema:
        clash = sorted(set(extra) & set(self.of(kind)))
        if clash:
            raise BadRequest(f"records.yaml: {kind} already has the field {clash[0]}.")
        if kind == "project":
            return Schema(self.client, {**self.project, **extra})
        return Schema({**self.client, **extra}, self.project)


def check(spec: Spec, name: str, value: Any) -> Any:
    """The value as stored (lists as lists, text trimmed), or `BadRequest` saying what is wrong with it."""
    if spec.type in ("emails", "list"):
        items = value if isinstance(value, list) else re.split(r"[;,]", str(value))
        clean = [" ".join(str(i).split()) for i in items if str(i).strip()]
        if spec.type == "emails":
            clean = [i.lower() for i in clean]
            bad = next((i for i in clean if not _EMAIL.match(i)), None)
            if bad:
                raise BadRequest(f"{bad!r} is not an email address.")
        return list(dict.fromkeys(clean))
    text = str(value).strip() if spec.type == "text" else " ".join(str(value).split())
    if spec.type == "choice" and text.lower() not in spec.choices:
        raise BadRequest(f"{name} is one of {', '.join(spec.choices)}, not {text!r}.")
    if spec.type == "domain":
        text = text.lower().removeprefix("https://").removeprefix("http://").removeprefix("www.").strip("/")
        if text and not _DOMAIN.match(text):
            raise BadRequest(f"{text!r} is not a domain (e.g. acme.com).")
    if spec.type == "date" and text and not _DATE.match(text):
        raise BadRequest(f"{name} is a date like 2027-01-31, not {text!r}.")
    return text.lower() if spec.type == "choice" else text[:2000]


@dataclass(frozen=True)
class Source:
    """Where a change came from: who (an actor label, `import`, an approved action), which message, task,
    action key or file line, and when."""

    by: str
    where: str
    at: datetime


@dataclass(frozen=True)
class Change:
    field: str
    old: Any
    new: Any
    by: str
    where: str
    at: datetime


@dataclass
class Entity:
    """A client or a project: its fields now and every change that made them so."""

    id: str
    kind: Kind
    fields: dict[str, Any] = field(default_factory=dict)
    history: list[Change] = field(default_factory=list)
    merged: list[str] = field(default_factory=list)
    """Ids of the records `/merge` joined into this one."""
    rev: int = 0

    @property
    def name(self) -> str:
        return str(self.fields.get("name", ""))

    @property
    def version(self) -> int:
        return len(self.history)

    def put(self, name: str, value: Any, source: Source) -> Change | None:
        """One field to a new value: a new version with its source; None when nothing changes."""
        old = self.fields.get(name)
        if old == value or (value in ("", []) and old is None):
            return None
        change = Change(name, old, value, source.by, source.where, source.at)
        if value in ("", []):
            self.fields.pop(name, None)
        else:
            self.fields[name] = value
        self.history.append(change)
        return change

    def applied(self, where: str) -> bool:
        """A change from this source is in the history already (an action applied once, a file line seen)."""
        return any(c.where == where for c in self.history)

    def fixed_keys(self) -> set[str]:
        return keys_of(self.kind, self.fields)

    def sourced(self, name: str) -> Change | None:
        """The change that set a field to what it is now."""
        return next((c for c in reversed(self.history) if c.field == name), None)


def keys_of(kind: str, fields: Mapping[str, Any]) -> set[str]:
    """The fixed keys a record is found by: unique ones (`email:`, `name:`, `project:`) and shared ones
    (`domain:` — several people at one company; `first:` — the first word of the name)."""
    if kind == "project":
        return {f"project:{fold(str(fields.get('name', '')))}"} if fields.get("name") else set()
    found = {f"email:{e}" for e in fields.get("emails", [])}
    found |= {f"name:{fold(n)}" for n in [fields.get("name", ""), *fields.get("aliases", [])] if n}
    domain = fields.get("domain") or implied_domain(fields.get("emails", []))
    first = fold(str(fields.get("name", ""))).split(" ")[0]
    return found | ({f"domain:{domain}"} if domain else set()) | ({f"first:{first}"} if first else set())


def implied_domain(emails: Iterable[str]) -> str:
    domains = [e.rsplit("@", 1)[1] for e in emails if "@" in e]
    return next((d for d in domains if d not in FREE_MAIL), "")


def unique(key: str) -> bool:
    """`domain:` (several people at one company) and `first:` (a first name, used only when one record has it)
    are shared keys; the rest name one record."""
    return not key.startswith(("domain:", "first:"))


def fold(name: str) -> str:
    return " ".join(name.casefold().split())


def lookup_keys(query: str, *, loose: bool = False) -> list[str]:
    """The keys a typed query may be: an address, a domain, a name — in that order, each tried exactly; `loose`
    (reading: /who, a request's retrieval) also tries a lone word as a first name."""
    q = " ".join(query.strip().split())
    if "@" in q:
        return [f"email:{q.lower().strip('<>')}"]
    if _DOMAIN.match(q.lower()) and " " not in q:
        return [f"domain:{q.lower()}", f"name:{fold(q)}", f"project:{fold(q)}"]
    first = [f"first:{fold(q)}"] if loose and " " not in q else []
    return [f"name:{fold(q)}", f"project:{fold(q)}", *first]


def tomb(key: str) -> str:
    """What a tombstone keeps of a forgotten key: a hash, so the store holds no trace of the person."""
    return hashlib.sha256(key.encode()).hexdigest()[:32]


def merge(into: Entity, other: Entity, source: Source) -> list[Change]:
    """`/merge`: `other`'s addresses, names (as aliases), tags and any field `into` lacks join `into`; its
    history is kept under `into`. The caller drops `other` and re-points its keys."""
    changes: list[Change | None] = []
    for name, value in other.fields.items():
        mine = into.fields.get(name)
        if name == "name":
            extra = [value] if fold(value) != fold(into.name) else []
            changes.append(into.put("aliases", _union(into.fields.get("aliases", []), extra), source))
        elif isinstance(value, list):
            changes.append(into.put(name, _union(mine or [], value), source))
        elif mine in (None, ""):
            changes.append(into.put(name, value, source))
    into.merged.append(other.id)
    into.history = sorted([*into.history, *other.history], key=lambda c: c.at)
    return [c for c in changes if c is not None]


def _union(a: list[str], b: list[str]) -> list[str]:
    return list(dict.fromkeys([*a, *b]))


def arrow(change_old: Any, change_new: Any) -> str:
    """`net 30 → net 45`, as a card shows a field change."""
    return f"{shown(change_old) or '(none)'} → {shown(change_new) or '(none)'}"


def shown(value: Any) -> str:
    return ", ".join(value) if isinstance(value, list) else str(value or "")


@dataclass(frozen=True)
class Link:
    """One line of a record's timeline: something sent, decided or changed that concerns it, by fixed keys."""

    at: datetime
    what: str
    text: str
    ref: str
    """What it came from (`p…:0`, a task id): the same thing linked twice is one line."""


EMAIL_IN_TEXT = re.compile(r"(?<![\w.+'-])[\w.+'-]+@[\w-]+(?:\.[\w-]+)+")
"""Starts only where a run of address characters starts (the look-behind): tried inside the run too, it backtracked
over the rest of it each time, quadratic in a long word (half a second for 8,000 characters of a stranger's
email)."""


def addresses_in(values: Iterable[Any]) -> list[str]:
    """Email addresses in an action's fields (nested payloads too): the fixed keys it concerns."""
    found: list[str] = []
    for value in values:
        if isinstance(value, Mapping):
            found += addresses_in(value.values())
        elif isinstance(value, list):
            found += addresses_in(value)
        elif isinstance(value, str):
            found += [a.lower() for a in EMAIL_IN_TEXT.findall(value)]
    return list(dict.fromkeys(found))


def changed(entity: Entity, changes: list[Change], source: Source, *, created: bool = False) -> Event:
    """The ledger event for one write of a record: enough to rebuild its fields (`deputy replay`)."""
    cls = RecordCreated if created else RecordChanged
    detail = {
        "record": entity.id,
        "kind": entity.kind,
        "changes": [{"field": c.field, "new": c.new} for c in changes],
    }
    said = "; ".join(f"{c.field}: {arrow(c.old, c.new)}" for c in changes)
    verb = "created" if created else "changed"
    return cls(
        at=source.at,
        task_id=source.where,
        actor=source.by,
        summary=f"{entity.kind} {entity.name} {verb}: {said}"[:300],
        detail=detail,
    )


def edited(spec: Spec, name: str, current: Any, value: str) -> Any:
    """A typed edit's new value: a list field gains an item (`-item` takes one out), `-` clears any field."""
    value = value.strip()
    if value == "-":
        return [] if spec.type in ("emails", "list") else ""
    if spec.type not in ("emails", "list"):
        return check(spec, name, value)
    have = list(current or [])
    if value.startswith("-"):
        drop = set(check(spec, name, value[1:]))
        return [v for v in have if v not in drop]
    return _union(have, check(spec, name, value))


def split_edit(schema: Schema, text: str) -> tuple[Kind, str, str, str]:
    """`[project] <name…> <field> <value…>`: the name runs up to the first word that names a field."""
    words = text.split()
    kind: Kind = "client"
    if words and words[0].lower() == "project":
        kind, words = "project", words[1:]
    for i in range(1, len(words)):
        found = schema.field_name(kind, words[i])
        if found:
            return kind, " ".join(words[:i]), found, " ".join(words[i + 1 :])
    fields = ", ".join(schema.of(kind))
    raise BadRequest(f"Type /client <name> <field> <value>, e.g. /client Acme terms net 45. Fields: {fields}.")
