"""Clients and projects in files: CSV (a header row; `name`, `email`, `company`, `phone`, `status`, `terms`, `tags`
or any field's name, any case; several emails separated by `;`; a `type` column for projects) and vCard, read
with the standard library; and the CSV / JSON `deputy export` writes. Every row keeps its line number."""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from orchestrator.records import Entity, shown

COLUMNS = ("type", "name", "email", "company", "phone", "status", "terms", "tags")
VCARD = {"FN": "name", "EMAIL": "emails", "TEL": "phone", "ORG": "company", "TITLE": "role", "NOTE": "notes"}


@dataclass
class Row:
    line: int
    fields: dict[str, str] = field(default_factory=dict)
    error: str = ""


class FileError(Exception):
    """The file as a whole can't be read (no header, not CSV or vCard, not text)."""


def read(path: Path) -> list[Row]:
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as err:
        raise FileError(f"can't read {path}: {err}") from None
    if path.suffix.lower() in (".vcf", ".vcard") or text.lstrip().upper().startswith("BEGIN:VCARD"):
        return list(vcards(text))
    return list(rows(text))


def rows(text: str) -> Iterator[Row]:
    reader = csv.reader(io.StringIO(text))
    header = [h.strip().lower() for h in next(reader, [])]
    if not header or "name" not in header:
        raise FileError("the first row must be a header with a name column (name,email,company,…)")
    for values in reader:
        line = reader.line_num
        if not any(v.strip() for v in values):
            continue
        if len(values) > len(header):
            yield Row(line, error=f"{len(values)} values for {len(header)} columns")
            continue
        yield Row(line, {h: v.strip() for h, v in zip(header, values, strict=False) if h and v.strip()})


def vcards(text: str) -> Iterator[Row]:
    """BEGIN:VCARD … END:VCARD blocks; folded lines (starting with a space) are joined first."""
    row: Row | None = None
    for number, line in _unfolded(text):
        name, _, value = line.partition(":")
        prop = name.split(";")[0].upper()
        if prop == "BEGIN":
            row = Row(number)
        elif prop == "END" and row is not None:
            yield row if row.fields.get("name") else Row(row.line, error="a vCard without FN (a name)")
            row = None
        elif row is not None and prop in VCARD:
            _add(row, VCARD[prop], _unescape(value))
        elif row is not None and prop == "CATEGORIES":
            _add(row, "tags", _unescape(value).replace(",", ";"))


def _add(row: Row, name: str, value: str) -> None:
    value = value.replace(";", " ").strip() if name == "company" else value.strip()
    if not value:
        return
    joined = name in ("emails", "tags") and name in row.fields
    row.fields[name] = f"{row.fields[name]};{value}" if joined else value


def _unfolded(text: str) -> Iterator[tuple[int, str]]:
    current, start = "", 0
    for number, line in enumerate(text.splitlines(), 1):
        if line.startswith((" ", "\t")) and current:
            current += line[1:]
            continue
        if current:
            yield start, current
        current, start = line, number
    if current:
        yield start, current


def _unescape(value: str) -> str:
    return re.sub(r"\\([,;\\nN])", lambda m: "\n" if m[1] in "nN" else m[1], value)


def export_csv(entities: list[Entity]) -> str:
    """Every field a column (lists joined with `;`), the built-in ones first: the import reads it back."""
    extra = sorted({k for e in entities for k in e.fields} - {"name", "emails", *COLUMNS})
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["id", *COLUMNS, *extra])
    for e in entities:
        values = {"type": e.kind, **e.fields, "email": e.fields.get("emails", [])}
        writer.writerow([e.id, *(_cell(values.get(c)) for c in (*COLUMNS, *extra))])
    return out.getvalue()


def _cell(value: Any) -> str:
    return ";".join(value) if isinstance(value, list) else shown(value)


def export_json(entities: list[Entity]) -> str:
    """Each record with its fields and its history (every version, with its source)."""
    return json.dumps([_entity(e) for e in entities], ensure_ascii=False, indent=1, default=str)


def _entity(e: Entity) -> dict[str, Any]:
    return {
        "id": e.id,
        "kind": e.kind,
        "fields": e.fields,
        "merged": e.merged,
        "history": [asdict(c) for c in e.history],
    }
