"""`DEPUTY_DATA_DIR/records.yaml`: extra fields for clients and projects, checked once at start. The file is
`client: {<field>: {type: line|text|list|emails|domain|choice|date, choices: [...], names: [...]}}` and the same
under `project:`; a wrong entry is one line naming the file and the field."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

from config import yaml_text
from orchestrator.errors import BadRequest, ConfigError
from orchestrator.records import Schema, Spec


class _Field(BaseModel):
    model_config = ConfigDict(extra="forbid")
    type: Literal["line", "text", "emails", "domain", "list", "choice", "date"] = "line"
    choices: list[str] = []
    names: list[str] = []


class _File(BaseModel):
    model_config = ConfigDict(extra="forbid")
    client: dict[str, _Field] = {}
    project: dict[str, _Field] = {}


def record_path(data_dir: Path) -> Path:
    return data_dir / "records.yaml"


@cache
def record_schema(path: Path) -> Schema:
    """The built-in fields plus the file's (when there is one); read once per process."""
    if not path.exists():
        return Schema()
    try:
        raw: Any = yaml_text.parse(path.read_text()) or {}
        parsed = _File.model_validate(raw)
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as err:
        raise ConfigError(f"{path}: can't read it ({type(err).__name__}); fix or remove it.") from None
    except ValidationError as err:
        first = err.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise ConfigError(f"{path}: {where}: {first['msg']}") from None
    return _extended(path, parsed)


def _extended(path: Path, parsed: _File) -> Schema:
    schema = Schema()
    for kind, fields in (("client", parsed.client), ("project", parsed.project)):
        specs = {
            n.lower(): Spec(f.type, tuple(c.lower() for c in f.choices), tuple(f.names)) for n, f in fields.items()
        }
        if any(s.type == "choice" and not s.choices for s in specs.values()):
            raise ConfigError(f"{path}: {kind}: a choice field needs choices: [...].")
        try:
            schema = schema.with_extra(kind, specs)
        except BadRequest as err:
            raise ConfigError(f"{path}: {err}") from None
    return schema
