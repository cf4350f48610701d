"""What platforms send, checked before anything is stored: UTF-8 text, JSON objects nested at most `MAX_DEPTH`
deep, the fields a payload of its type must carry. Anything else is a `Malformed` with a short reason — a 4xx,
never a traceback."""

from __future__ import annotations

import json
import re
from typing import Any

from orchestrator.policies import clean_text

MAX_DEPTH = 32


class Malformed(ValueError):
    """The body can't be what the route takes; the message says why, in a few words, for the 4xx."""


def text_body(body: bytes) -> str:
    """A hook's body as text to store: UTF-8; JSON (the usual case) parsed, bounded and cleaned, so the drafting
    step never meets a bomb or a lone surrogate; other text cleaned as it is."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise Malformed("body is not UTF-8") from None
    if not text.strip():
        raise Malformed("empty body")
    if text.lstrip()[:1] in "[{":
        return as_stored(text, _parsed(text))
    return clean_text(text)


def json_object(text: str) -> dict[str, Any]:
    """A JSON object, or `Malformed`: not JSON, nested too deeply, or not an object."""
    data = _parsed(text)
    if not isinstance(data, dict):
        raise Malformed("body is not a JSON object")
    return data


def _parsed(text: str) -> Any:
    try:
        data = json.loads(text)
    except (ValueError, RecursionError):
        raise Malformed("body is not JSON") from None
    if _deeper_than(data, MAX_DEPTH):
        raise Malformed(f"JSON nested deeper than {MAX_DEPTH} levels")
    return data


def _deeper_than(data: Any, limit: int) -> bool:
    """Walked without recursion, stopping at the first branch past `limit`."""
    stack = [(data, 1)]
    while stack:
        value, depth = stack.pop()
        children = value.values() if isinstance(value, dict) else value if isinstance(value, list) else ()
        for child in children:
            if isinstance(child, dict | list):
                if depth >= limit:
                    return True
                stack.append((child, depth + 1))
    return False


def cleaned(data: Any) -> Any:
    """Every string in a payload as Deputy stores text: lone surrogates (which JSON escapes can carry and no
    encoder takes) become U+FFFD, control characters go — in keys and values alike."""
    if isinstance(data, str):
        return clean_text(data)
    if isinstance(data, list):
        return [cleaned(item) for item in data]
    if isinstance(data, dict):
        return {clean_text(str(key)): cleaned(value) for key, value in data.items()}
    return data


def stored_json(data: Any) -> str:
    """A payload as it is stored: cleaned, compact, UTF-8."""
    return json.dumps(cleaned(data), ensure_ascii=False, separators=(",", ":"))


def as_stored(text: str, data: Any) -> str:
    """The text as it came when nothing in it needs cleaning (what was signed, as it was sent), else cleaned.
    JSON text carries a control character or a lone surrogate only as an escape (u, b or f after a backslash)
    or raw (DEL and C1 are legal raw): without either there is nothing to clean."""
    if not _MAYBE_UNSAFE.search(text):
        return text
    return text if cleaned(data) == data else stored_json(data)


_MAYBE_UNSAFE = re.compile(r"\\[ubf]|[\x7f-\x9f]")


def need(data: dict[str, Any], path: str, kind: type | tuple[type, ...]) -> Any:
    """`data["a"]["b"]` for path "a.b", of the given type, or `Malformed` naming what is missing."""
    value: Any = data
    for part in path.split("."):
        if not isinstance(value, dict) or part not in value:
            raise Malformed(f"missing {path}")
        value = value[part]
    if not isinstance(value, kind) or (
        isinstance(value, bool) and bool not in (kind if isinstance(kind, tuple) else (kind,))
    ):
        raise Malformed(f"{path} has the wrong type")  # JSON's true is no id
    return value
