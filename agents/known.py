"""What the records say about who a request names: the clients and projects found by fixed keys in its text —
an address, a domain, an exact name (two capitalised words) or a first name only one record has — with their
terms and recent timeline, as memory lines the prompts carry and the card cites. Never a model's guess."""

from __future__ import annotations

import re

from memory.records import MemoryRecord, Recalled, Source
from orchestrator.ports import RecordBook
from orchestrator.records import EMAIL_IN_TEXT, Entity, fold, implied_domain, shown

_NAME = re.compile(r"\b([A-Z][\w'-]+)(?:\s+([A-Z][\w'-]+))?")
_DOMAIN = re.compile(r"(?<![\w.-])(?:[a-z0-9-]+\.)+[a-z]{2,}\b")
"""From the start of a dotted run only: from each word in it, the nested repeat backtracked over the rest,
quadratic in its length (orchestrator/records.py's EMAIL_IN_TEXT had the same fault)."""
LIMIT = 3
WORDS, KEYS = 12, 30
"""A request names its people early; a long one (a pasted email) costs at most this many lookups."""


async def named(book: RecordBook, text: str) -> list[Recalled]:
    """The records the request names, each as one line (who, how to reach them, status, terms, last sent)."""
    found: dict[str, Entity] = {}
    for key in keys_in(text):
        ids = await book.find(key)
        if len(ids) == 1 and ids[0] not in found and (entity := await book.get(ids[0])) is not None:
            found[entity.id] = entity
    chosen = list(found.values())[:LIMIT]
    lines = [await _line(book, e) for e in chosen]
    return lines + [_terms(e) for e in chosen if e.fields.get("terms")]


def keys_in(text: str) -> list[str]:
    addresses = [a.lower() for a in EMAIL_IN_TEXT.findall(text)]
    bare = EMAIL_IN_TEXT.sub(" ", text)
    keys = [f"email:{a}" for a in addresses] + [f"domain:{d}" for d in _DOMAIN.findall(bare.lower())]
    for first, last in _NAME.findall(bare):
        keys += [f"name:{fold(first + ' ' + last)}"] if last else []
        keys += [f"name:{fold(first)}", f"project:{fold(first)}"]
    words = re.findall(r"[^\W\d_][\w'-]{2,}", bare)[1:WORDS]  # not the verb ("email Piotr …")
    keys += [f"first:{fold(w)}" for w in words]
    return list(dict.fromkeys(keys))[:KEYS]


async def _line(book: RecordBook, entity: Entity) -> Recalled:
    f = entity.fields
    reach = f" <{f['emails'][0]}>" if f.get("emails") else ""
    parts = [
        f"{entity.kind}",
        *(f"{k} {shown(f[k])}" for k in ("status", "company", "role", "terms", "rate") if f.get(k)),
    ]
    last = await book.timeline(entity.id, 2)
    parts += [f"last {link.what} {link.at:%d %b}: {link.text}" for link in last]
    text = f"{entity.name}{reach} — {'; '.join(parts)}"
    change = entity.history[-1] if entity.history else None
    source = Source(change.by, change.where, change.at.isoformat()) if change else Source("records")
    record = MemoryRecord(entity.id, "person", text, source, version=max(entity.version, 1))
    return Recalled(record, 1.0)


def _terms(entity: Entity) -> Recalled:
    """A client's terms as a sentence without its address, the way the drafts read a company's terms."""
    f = entity.fields
    domain = f.get("domain") or implied_domain(f.get("emails", []))
    text = f"{f.get('company') or entity.name} ({domain}) pays on terms {f['terms']}"
    change = entity.sourced("terms")
    source = Source(change.by, change.where, change.at.isoformat()) if change else Source("records")
    return Recalled(MemoryRecord(entity.id, "fact", text, source), 1.0)
