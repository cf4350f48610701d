"""`record.create` and `record.update`: a change an agent proposes to a client or project record, on the card as
"terms: net 30 → net 45" and applied once on approval. The change carries the action's idempotency key as its
source, so a repeat finds it in the record's history and changes nothing (resend-safe). The record is found by
fixed keys only (address, domain, exact name or alias); a forgotten one can't be created again."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from redis.asyncio import Redis

from config.record_fields import record_path, record_schema
from memory.clients import RedisRecordBook
from orchestrator.errors import BadRequest, PermanentConnectorError
from orchestrator.handlers.records import lookup
from orchestrator.kinds import Preview, Traits
from orchestrator.ports import HandOver, RecordBook, no_hand_over
from orchestrator.records import KINDS, Entity, Schema, Source, arrow, changed, check, edited, shown

CREATE = Traits("record.create", noun="record", done="created")
UPDATE = Traits("record.update", noun="record", done="updated")
TRAITS = (CREATE, UPDATE)
BY = "approved action"
TARGET = "Deputy records"


@dataclass(frozen=True)
class Values:
    data_dir: Path
    """Where `records.yaml` (extra fields) lives."""


def build(values: Values, redis: Redis) -> tuple[RecordCreate, RecordUpdate]:
    book, schema = RedisRecordBook(redis), record_schema(record_path(values.data_dir))
    return RecordCreate(book, schema), RecordUpdate(book, schema)


class _Records:
    resend_safe = True

    def __init__(self, book: RecordBook, schema: Schema) -> None:
        self.book, self.schema = book, schema

    def unavailable(self) -> str:
        return ""

    def source(self, key: str) -> Source:
        return Source(BY, key, datetime.now(UTC))


class RecordCreate(_Records):
    kind, traits = CREATE.kind, CREATE

    def validate(self, fields: dict[str, Any]) -> dict[str, Any]:
        """`type` (client or project), `name`, and any of the kind's fields by their names or typed words."""
        kind = str(fields.get("type", "client")).lower()
        if kind not in KINDS:
            raise BadRequest(f"A record is a client or a project, not {kind!r}.")
        clean: dict[str, Any] = {"type": kind}
        for word, value in fields.items():
            name = self.schema.field_name(kind, word) if word != "type" else None
            if word != "type" and name is None:
                raise BadRequest(f"A {kind} has no field {word}; it has {', '.join(self.schema.of(kind))}.")
            if name is not None and value not in (None, "", []):
                clean[name] = check(self.schema.of(kind)[name], name, value)
        if not clean.get("name"):
            raise BadRequest(f"A new {kind} needs a name.")
        return clean

    def preview(self, fields: dict[str, Any]) -> Preview:
        rest = [f"{k}: {shown(v)}" for k, v in fields.items() if k not in ("type", "name")]
        reach = f" ({shown(fields['emails'])})" if fields.get("emails") else ""
        return Preview(
            f"Create {fields['type']} {fields['name']}{reach} in Deputy's records", TARGET, body="\n".join(rest)
        )

    async def apply(self, fields: dict[str, Any], idempotency_key: str, handing_over: HandOver = no_hand_over) -> str:
        """A record with any of the same fixed keys is the same one: it gains the fields it lacks."""
        kind, values = fields["type"], {k: v for k, v in fields.items() if k != "type"}
        probe = Entity("", kind, dict(values))
        if await self.book.buried(sorted(probe.fixed_keys())):
            raise PermanentConnectorError(f"{fields['name']} was forgotten (/forget client); not created again.")
        found = await _same(self.book, probe)
        entity = found or Entity(await self.book.new_id(kind), kind)
        if entity.applied(idempotency_key):
            return _said(entity, found_before=True)
        src = self.source(idempotency_key)
        changes = [
            c for n, v in values.items() if (found is None or not entity.fields.get(n)) and (c := entity.put(n, v, src))
        ]
        if found is not None and not changes:  # the same record, made already another way (a typed edit)
            return f"Already a {kind}: {entity.name} ({entity.id}); nothing created"
        await self.book.save([entity], [changed(entity, changes, src, created=found is None)])
        return _said(entity, found_before=found is not None)


async def _same(book: RecordBook, probe: Entity) -> Entity | None:
    for key in sorted(probe.fixed_keys()):
        if key.startswith(("email:", "name:", "project:")):
            ids = await book.find(key)
            if ids:
                return await book.get(ids[0])
    return None


def _said(entity: Entity, *, found_before: bool) -> str:
    verb = "Updated" if found_before else "Created"
    return f"{verb} {entity.kind} {entity.name} ({entity.id})"


class RecordUpdate(_Records):
    kind, traits = UPDATE.kind, UPDATE

    def validate(self, fields: dict[str, Any]) -> dict[str, Any]:
        """`record` (a name, address or domain that finds exactly one), `field`, `value`, and `before` — what the
        field held when the change was drafted, for the card."""
        record = " ".join(str(fields.get("record", "")).split())
        if not record:
            raise BadRequest("Which record? Give its name or address in `record`.")
        word = str(fields.get("field", ""))
        name = self.schema.field_name("client", word) or self.schema.field_name("project", word)
        if name is None:
            raise BadRequest(f"A record has no field {word!r}; a client has {', '.join(self.schema.of('client'))}.")
        spec = self.schema.of("client").get(name) or self.schema.of("project")[name]
        value = fields.get("value", "")
        check(spec, name, value) if str(value).strip() not in ("", "-") else None
        return {"record": record, "field": name, "value": str(value).strip(), "before": shown(fields.get("before", ""))}

    def preview(self, fields: dict[str, Any]) -> Preview:
        change = f"{fields['field']}: {arrow(fields['before'], fields['value'])}"
        return Preview(f"Update {fields['record']} — {change}", TARGET, body=change)

    async def apply(self, fields: dict[str, Any], idempotency_key: str, handing_over: HandOver = no_hand_over) -> str:
        found = await lookup(self.book, fields["record"])
        if len(found) != 1:
            why = "No record is" if not found else f"{len(found)} records are"
            raise PermanentConnectorError(f"{why} called {fields['record']!r}; nothing changed.")
        entity, name = found[0], fields["field"]
        before = entity.fields.get(name)
        if entity.applied(idempotency_key):
            return f"Updated {entity.name}: {name} is {shown(before)}"
        spec = self.schema.of(entity.kind).get(name)
        if spec is None:
            raise PermanentConnectorError(f"A {entity.kind} has no field {name}; nothing changed.")
        src = self.source(idempotency_key)
        change = entity.put(name, edited(spec, name, before, fields["value"]), src)
        if change is None:
            return f"{entity.name}'s {name} was already {shown(before)}"
        await self.book.save([entity], [changed(entity, [change], src)])
        return f"Updated {entity.name}: {name} {arrow(before, change.new)}"
