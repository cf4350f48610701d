"""`deputy import FILE [--apply]` and `deputy export [--json]`. An import first reads and checks every row, then
says per line what it would create, update or skip; `--apply` writes it in batches, each record with its ledger
event. Rows find records by the same fixed keys as chat (address, exact name or alias), a later row of the same
client joins the earlier one, a malformed row is skipped whole, a forgotten client stays forgotten, and a
second run of the same file changes nothing (every value is already there)."""

from __future__ import annotations

import sys
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from bot.record_files import FileError, Row, export_csv, export_json, read
from config.record_fields import record_path, record_schema
from config.settings import Settings
from memory.clients import RedisRecordBook
from memory.connections import async_redis, resolve_url
from orchestrator.errors import BadRequest, ConfigError
from orchestrator.events import Event
from orchestrator.records import KINDS, Entity, Kind, Schema, Source, arrow, changed, check, edited, tomb, unique

BATCH = 500
NEW = "+"
"""The id prefix of a record the plan would create: it gets its real id when applied."""


@dataclass
class Plan:
    lines: list[str] = field(default_factory=list)
    counts: Counter[str] = field(default_factory=Counter)
    touched: dict[str, Entity] = field(default_factory=dict)
    created: set[str] = field(default_factory=set)
    first: dict[str, int] = field(default_factory=dict)
    """The first change each record got from this file: its event carries the changes from there on."""


async def plan(book: RedisRecordBook, schema: Schema, rows: list[Row], name: str, now: datetime) -> Plan:
    index, tombs, done = await book.index(), await book.tombs(), Plan()
    wanted = {index[k] for r in rows if not r.error for k in _probe_keys(schema, r) if k in index}
    loaded = {e.id: e for e in await book.many(sorted(wanted))}
    for row in rows:
        said = _row(schema, row, index, tombs, loaded, done, Source("import", f"{name}:{row.line}", now))
        done.lines.append(f"line {row.line}: {said}")
    return done


def _probe_keys(schema: Schema, row: Row) -> set[str]:
    try:
        kind, values = _values(schema, row.fields)
    except BadRequest:
        return set()
    return {k for k in Entity("", kind, values).fixed_keys() if unique(k)}


def _row(
    schema: Schema, row: Row, index: dict[str, str], tombs: set[str], loaded: dict[str, Entity], done: Plan, src: Source
) -> str:
    if row.error:
        return _count(done, "malformed", f"malformed: {row.error}")
    try:
        kind, values = _values(schema, row.fields)
    except BadRequest as err:
        return _count(done, "malformed", f"malformed: {err}")
    found = {k for k in Entity("", kind, values).fixed_keys() if unique(k)}
    if any(tomb(k) in tombs for k in found):
        return _count(done, "skipped", "skipped: a forgotten client (/forget client); it stays forgotten")
    ids = {index[k] for k in found if k in index}
    if len(ids) > 1:
        return _count(done, "skipped", f"skipped: matches {len(ids)} records ({', '.join(sorted(ids))}); /merge first")
    entity = loaded.get(ids.pop()) if ids else None
    if entity is None:
        entity = Entity(f"{NEW}{row.line}", kind)
        done.created.add(entity.id)
    return _changes(schema, entity, values, index, loaded, done, src)


def _changes(
    schema: Schema,
    entity: Entity,
    values: dict[str, object],
    index: dict[str, str],
    loaded: dict[str, Entity],
    done: Plan,
    src: Source,
) -> str:
    start, spec = len(entity.history), schema.of(entity.kind)
    made = [c for n, v in values.items() if (c := entity.put(n, _merged(spec[n].type, entity.fields.get(n), v), src))]
    if not made:
        return _count(done, "unchanged", f"unchanged: {entity.kind} {entity.name}")
    done.first.setdefault(entity.id, start)
    done.touched[entity.id], loaded[entity.id] = entity, entity
    index.update({k: entity.id for k in entity.fixed_keys() if unique(k)})
    if entity.id in done.created and start == 0:
        return _count(done, "create", f"create {entity.kind} {entity.name}")
    said = "; ".join(f"{c.field} {arrow(c.old, c.new)}" for c in made)
    return _count(done, "update", f"update {entity.kind} {entity.name}: {said}")


def _merged(kind: str, have: object, value: object) -> object:
    """A list field gains the file's items; any other field takes the file's value."""
    if kind in ("emails", "list") and isinstance(have, list) and isinstance(value, list):
        return list(dict.fromkeys([*have, *value]))
    return value


def _count(done: Plan, what: str, line: str) -> str:
    done.counts[what] += 1
    return line


def _values(schema: Schema, columns: dict[str, str]) -> tuple[Kind, dict[str, object]]:
    typed = columns.get("type", "client").lower()
    kind: Kind = "project" if typed == "project" else "client"
    if typed not in KINDS:
        raise BadRequest(f"type is client or project, not {typed!r}")
    values: dict[str, object] = {}
    for column, raw in columns.items():
        name = schema.field_name(kind, column) if column not in ("type", "id") else None
        if name is not None:
            values[name] = edited(schema.of(kind)[name], name, values.get(name), raw)
    if not values.get("name"):
        raise BadRequest("no name")
    values["name"] = check(schema.of(kind)["name"], "name", values["name"])
    return kind, values


async def apply(book: RedisRecordBook, done: Plan, name: str, now: datetime) -> None:
    """In batches: each record with its event, all or nothing per batch; a re-run picks up what is missing."""
    entities = list(done.touched.values())
    for start in range(0, len(entities), BATCH):
        batch = entities[start : start + BATCH]
        events: list[Event] = []
        fresh = {kind: iter(await book.new_ids(kind, sum(_new(e, done, kind) for e in batch))) for kind in KINDS}
        for entity in batch:
            created = entity.id in done.created
            first = done.first[entity.id]
            entity.id = next(fresh[entity.kind]) if created else entity.id
            events.append(
                changed(entity, entity.history[first:], Source("import", f"import:{name}", now), created=created)
            )
        await book.save(batch, events)


def _new(entity: Entity, done: Plan, kind: str) -> bool:
    return entity.kind == kind and entity.id in done.created


def summary(done: Plan, applied: bool) -> str:
    c = done.counts
    rest = f"{c['unchanged']} unchanged, {c['skipped']} skipped, {c['malformed']} malformed"
    if applied:
        return f"Done: {c['create']} created, {c['update']} updated, {rest}."
    tail = " Run again with --apply to do it." if c["create"] or c["update"] else ""
    return f"Would do: {c['create']} to create, {c['update']} to update, {rest}.{tail}"


async def run_import(settings: Settings, path: Path, *, do: bool) -> int:
    try:
        rows = read(path)
    except FileError as err:
        raise ConfigError(str(err)) from None
    redis = async_redis(resolve_url(settings.redis_url, settings.data_dir))
    try:
        book, now = RedisRecordBook(redis), datetime.now(UTC)
        done = await plan(book, record_schema(record_path(settings.data_dir)), rows, path.name, now)
        if do:
            await apply(book, done, path.name, now)
    finally:
        await redis.aclose()
    sys.stdout.write("".join(f"{line}\n" for line in [*done.lines, summary(done, do)]))
    return 0


async def run_export(settings: Settings, *, as_json: bool) -> int:
    redis = async_redis(resolve_url(settings.redis_url, settings.data_dir))
    try:
        book = RedisRecordBook(redis)
        entities = [e for kind in KINDS for e in await book.many(await book.ids(kind))]
    finally:
        await redis.aclose()
    sys.stdout.write(export_json(entities) + "\n" if as_json else export_csv(entities))
    return 0
