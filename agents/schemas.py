"""Step schemas as a provider takes them (docs/llm.md, "Structured outputs").

A step's pydantic model stays the contract: the answer is validated against it, with its defaults, length
limits and `extra="forbid"`. What goes over the wire is that model's strict JSON schema: `$ref`s inlined, every
object closed (`additionalProperties: false`) with all its properties required, and only the keywords every
schema-taking provider accepts (OpenAI's strict mode refuses `default`; Gemini and Ollama take a subset). A
server that follows it can only answer in the step's shape; a limit it doesn't see is still ours to enforce.

Sent as litellm's `{"type": "json_schema", ...}` dict, which litellm passes through or translates per provider.
Not as the pydantic class: litellm turns a class into a different schema per provider (OpenAI's strict form with
the defaults left in, a non-strict one with `$defs` for Anthropic and Gemini)."""

from __future__ import annotations

import copy
import re
from functools import cache
from typing import Any

from pydantic import BaseModel

Schema = type[BaseModel] | dict[str, Any]
"""A step's schema: its pydantic model, or that model's JSON schema."""

KEYWORDS = frozenset({"type", "required", "additionalProperties", "items", "enum", "const", "anyOf", "description"})
"""What a strict schema keeps of pydantic's (and `properties`); `default`, `title`, length and range limits go."""


def response_format(schema: Schema) -> dict[str, Any]:
    """litellm's `response_format` for a step that must answer in this shape."""
    return {"type": "json_schema", "json_schema": {"name": name(schema), "schema": strict(schema), "strict": True}}


def strict(schema: Schema) -> dict[str, Any]:
    """The schema a strict server accepts (a fresh copy: litellm may edit what it is given)."""
    if isinstance(schema, dict):
        return _closed(schema)
    return copy.deepcopy(_strict_model(schema))


def name(schema: Schema) -> str:
    """The schema's name as OpenAI allows one: letters, digits, `_` and `-`, at most 64."""
    title = schema.__name__ if isinstance(schema, type) else str(schema.get("title") or "answer")
    return re.sub(r"[^A-Za-z0-9_-]", "_", title)[:64]


@cache
def _strict_model(model: type[BaseModel]) -> dict[str, Any]:
    """Once per model class: pydantic builds its JSON schema afresh on every call."""
    return _closed(model.model_json_schema())


def _closed(raw: dict[str, Any]) -> dict[str, Any]:
    done: dict[str, Any] = _strict(_inline(raw, _defs(raw)))
    return done


def _defs(schema: dict[str, Any]) -> dict[str, Any]:
    return {**schema.get("definitions", {}), **schema.get("$defs", {})}


def _inline(node: Any, defs: dict[str, Any]) -> Any:
    """Every `$ref` replaced by what it names (Deputy's step models are not recursive)."""
    if isinstance(node, list):
        return [_inline(item, defs) for item in node]
    if not isinstance(node, dict):
        return node
    if "$ref" in node:
        return _inline(defs[str(node["$ref"]).rsplit("/", 1)[-1]], defs)
    return {key: _inline(value, defs) for key, value in node.items() if key not in ("$defs", "definitions")}


def _strict(node: Any) -> Any:
    if isinstance(node, list):
        return [_strict(item) for item in node]
    if not isinstance(node, dict):
        return node
    out = {key: _strict(value) for key, value in node.items() if key in KEYWORDS}
    if "properties" in node:
        out["properties"] = {key: _strict(value) for key, value in node["properties"].items()}
    if out.get("type") == "object":
        out["required"] = list(out.get("properties", {}))
        out["additionalProperties"] = False
    return out
