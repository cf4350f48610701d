"""A tool call's arguments, as a model or a person writes them (a JSON object, or `key=value` words), checked
against the tool's input schema (JSON Schema, with `jsonschema`) before anything is staged; and a tool's answer
as text."""

from __future__ import annotations

import json
import shlex
from typing import Any

from orchestrator.errors import BadRequest

MAX_ARGS = 20_000
"""The most characters of arguments a call may carry."""


def arguments(raw: Any, schema: dict[str, Any]) -> dict[str, Any]:
    """The arguments as a dict the schema accepts (words typed as the schema says), or `BadRequest`. jsonschema
    is imported here, not at start: every Deputy process loads the connectors, few check a tool's arguments."""
    from jsonschema import Draft202012Validator
    from jsonschema.exceptions import SchemaError

    found = _parsed(raw)
    props = schema.get("properties", {}) if isinstance(schema.get("properties"), dict) else {}
    typed = {k: _typed(v, props.get(k)) for k, v in found.items()}
    if len(json.dumps(typed)) > MAX_ARGS:
        raise BadRequest(f"The tool's arguments are over {MAX_ARGS:,} characters.")
    try:
        error = next(iter(Draft202012Validator(schema).iter_errors(typed)), None)
    except SchemaError:
        return typed  # the server's schema is broken: the server checks its own arguments
    if error is not None:
        where = ".".join(str(p) for p in error.absolute_path)
        raise BadRequest(
            f"The tool's arguments don't fit its input schema: {where + ': ' if where else ''}{error.message}"
        )
    return typed


def _parsed(raw: Any) -> dict[str, Any]:
    if raw is None or raw == "":
        return {}
    if isinstance(raw, dict):
        return dict(raw)
    text = str(raw).strip()
    if text.startswith("{"):
        try:
            loaded = json.loads(text)
        except ValueError as err:
            raise BadRequest(f"The tool's arguments are not a JSON object ({err}).") from None
        if isinstance(loaded, dict):
            return loaded
    return words(text)


def words(text: str) -> dict[str, Any]:
    """`text="a b" pages=3` → {"text": "a b", "pages": "3"} (typed later, by the schema)."""
    try:
        parts = shlex.split(text)
    except ValueError as err:
        raise BadRequest(
            f"Can't read the tool's arguments ({err}); write key=value, quoting values with spaces."
        ) from None
    found: dict[str, Any] = {}
    for part in parts:
        key, eq, value = part.partition("=")
        if not eq or not key:
            raise BadRequest(f"Can't read {part!r}: write the tool's arguments as key=value.")
        found[key] = value
    return found


def _typed(value: Any, spec: Any) -> Any:
    """A word where the schema wants a number, a boolean, an object or a list, made one (if it reads as one)."""
    kind = spec.get("type") if isinstance(spec, dict) else None
    if not isinstance(value, str) or kind in (None, "string"):
        return value
    try:
        if kind == "integer":
            return int(value)
        if kind == "number":
            return float(value)
        if kind == "boolean" and value.lower() in ("true", "false", "yes", "no"):
            return value.lower() in ("true", "yes")
        if kind in ("object", "array"):
            return json.loads(value)
    except ValueError:
        return value
    return value


def result_text(result: Any) -> str:
    """The text of a tool's answer: its text parts, else its structured content as JSON."""
    parts = [str(getattr(c, "text", "")) for c in getattr(result, "content", None) or [] if getattr(c, "text", None)]
    if parts:
        return "\n".join(parts)
    structured = getattr(result, "structured_content", None)
    return json.dumps(structured, ensure_ascii=False) if structured else ""
