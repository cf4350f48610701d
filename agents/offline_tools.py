"""The offline model's draft of a tool call: "use <server>/<tool> with key=value …" (or a JSON object after the
tool's name) names the tool and its arguments; the connector checks both. Deterministic, like the rest of the
offline model."""

from __future__ import annotations

import re
from typing import Any

_USE = re.compile(
    r"^\s*(?:please\s+)?(?:use|call|run)\s+(?:the\s+)?(?:tool\s+)?(?P<tool>[\w.-]+/[\w.-]+)"
    r"(?:\s+(?:with|:)\b)?\s*:?\s*(?P<args>.*)$",
    re.I | re.S,
)


def tool_call(text: str, memory: str = "") -> dict[str, Any]:
    found = _USE.match(text)
    if found is None:
        return {"question": "Which tool? Say e.g. 'use books/add_note with text=\"call Jane\"' (/tools lists them)."}
    tool, args = found["tool"], found["args"].strip()
    fields = {"tool": tool, "arguments": args or "{}"}
    return {"summary": f"Use {tool}", "confidence": 0.9, "fields": fields}
