"""The offline model's draft of a record change ("Acme moved to net 45, update their terms"): which record (the
first client or project the retrieved records name), which field, the new value from the request, and what the
record holds now. Deterministic, like the rest of the offline model."""

from __future__ import annotations

import re
from typing import Any

from agents import prompts

FIELDS = ("terms", "status", "rate", "phone", "email", "role", "company", "next step")
_NET = re.compile(r"\bnet\s*\d+\b", re.I)
_RECORD = re.compile(r"^(?P<name>.+?)(?: <[^>]+>)? — (?:client|project)\b(?P<rest>.*)$")


def record_change(text: str, memory: str) -> dict[str, Any]:
    record = next((m for _, line in prompts.memory_records(memory) if (m := _RECORD.match(line))), None)
    if record is None:
        return {"question": "Which client or project? Name them as /clients lists them, e.g. 'Acme moved to net 45'."}
    field, value = _field(text), _value(text)
    if not field or not value:
        return {"question": "What should change? e.g. 'Acme moved to net 45, update their terms'."}
    now = re.search(rf"(?:^|; ){field.replace(' ', '_')} (?P<v>[^;]+)", record["rest"])
    fields = {
        "record": record["name"],
        "field": field.replace(" ", "_"),
        "value": value,
        "before": now["v"] if now else "(none)",
    }
    return {"summary": f"Update {record['name']}: {field} → {value}", "confidence": 0.9, "fields": fields}


def _field(text: str) -> str:
    low = text.lower()
    named = [f for f in FIELDS if re.search(rf"\b{f}\b", low)]
    return "terms" if _NET.search(text) and (not named or named[0] == "terms") else (named[0] if named else "")


def _value(text: str) -> str:
    net = _NET.findall(text)
    if net:
        return " ".join(net[-1].lower().replace("net", "net ").split())
    found = re.search(r"\b(?:to|is now|now)\s+(?P<v>[^,.;]+)", text, re.I)
    return found["v"].strip() if found else ""
