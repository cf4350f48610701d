"""The record words: a typed edit (`/client Acme terms net 45`), `/merge`, `/forget client`. Each applies at once
and is recorded with its source (who, which message, when); and the links an applied proposal leaves on the
records it concerns, found by fixed keys (an address in its fields, a record it names)."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping

from orchestrator import commands as cmd
from orchestrator import policies
from orchestrator.core import Core
from orchestrator.errors import Ambiguous, BadRequest, NotFound
from orchestrator.events import RecordForgotten, RecordMerged
from orchestrator.model import ActionStatus, Proposal
from orchestrator.outbound import Kind as Says
from orchestrator.ports import RecordBook
from orchestrator.records import (
    Entity,
    Kind,
    Link,
    Source,
    addresses_in,
    arrow,
    changed,
    check,
    edited,
    lookup_keys,
    merge,
    split_edit,
)

log = logging.getLogger("deputy.core")
SEPARATORS = (" and ", " + ", " & ", ",", " into ")


async def word(c: cmd.RecordWord, core: Core) -> None:
    policies.require_operator(c.actor, core.config.operators, "change client records")
    said = await WORDS[c.word](c, core)
    await core.say(c.chat, Says.NOTICE, said, reply_to=c.event_id, final=True)


def source(c: cmd.RecordWord, core: Core) -> Source:
    return Source(c.actor.label, f"{c.chat.platform}:{c.event_id or c.chat.chat}", core.now())


async def lookup(book: RecordBook, query: str, kind: str = "", *, loose: bool = False) -> list[Entity]:
    """The records a query names by a fixed key: an address, a domain, an exact name or alias — the first
    kind of key that finds any (`loose`: a first name too, for reading)."""
    if not kind:
        return await book.resolve(lookup_keys(query, loose=loose))
    for key in lookup_keys(query, loose=loose):
        found = [e for e in [await book.get(i) for i in await book.find(key)] if e is not None]
        found = [e for e in found if not kind or e.kind == kind]
        if found:
            return found
    return []


async def one(book: RecordBook, query: str, kind: str = "") -> Entity:
    found = await lookup(book, query, kind)
    if not found:
        raise NotFound(f"No record is called {query!r}. /clients and /projects list them.")
    if len(found) > 1:
        raise _ambiguous(query, found)
    return found[0]


def _ambiguous(query: str, found: list[Entity]) -> Ambiguous:
    names = [f"{e.name} ({e.id})" for e in found]
    return Ambiguous(f"{query!r} could be {', '.join(names[:5])}: type a name or an address.", choices=names)


async def _edit(c: cmd.RecordWord, core: Core) -> str:
    schema = core.config.schema
    kind, name, field, value = split_edit(schema, c.text)
    found = await lookup(core.book, name, kind)
    if len(found) > 1:
        raise _ambiguous(name, found)
    src = source(c, core)
    entity = found[0] if found else await _new(core, kind, name, src)
    before = entity.fields.get(field)
    change = entity.put(field, edited(schema.of(kind)[field], field, before, value), src)
    if change is None and found:
        return f"Nothing changed: {entity.name}'s {field} is already {value}."
    changes = [*([] if found else entity.history[:1]), *([change] if change else [])]
    await core.book.save([entity], [changed(entity, changes, src, created=not found)])
    made = "" if found else f"New {kind} {entity.name} ({entity.id}). "
    now = change.new if change else before
    return f"✓ {made}{entity.name}: {field} {arrow(before, now)} (v{entity.version}, by {src.by})."


async def _new(core: Core, kind: Kind, name: str, src: Source) -> Entity:
    entity = Entity(id=await core.book.new_id(kind), kind=kind)
    entity.put("name", check(core.config.schema.of(kind)["name"], "name", name), src)
    return entity


async def _merge(c: cmd.RecordWord, core: Core) -> str:
    first, second = await _pair(core.book, c.text)
    if first.id == second.id:
        raise BadRequest(f"{first.name} and {second.name} are already one record ({first.id}).")
    if first.kind != second.kind:
        raise BadRequest(f"{first.name} is a {first.kind} and {second.name} a {second.kind}: they can't be one.")
    src = source(c, core)
    for line in await core.book.timeline(second.id, 1000):
        await core.book.link([first.id], line)
    changes = merge(first, second, src)
    said = f"{first.kind} {first.id} absorbed {second.id}"
    joined = RecordMerged(
        at=src.at, task_id=src.where, actor=src.by, summary=said, detail={"record": first.id, "other": second.id}
    )
    await core.book.save([first], [changed(first, changes, src), joined], drop=[second.id])
    return f"✓ Merged {second.name} ({second.id}) into {first.name} ({first.id}): one record, one timeline."


async def _pair(book: RecordBook, text: str) -> tuple[Entity, Entity]:
    """Two names, split at 'and', '+', ',' — or, without one, at the one place where both halves name a record."""
    for sep in SEPARATORS:
        if sep in text:
            left, right = text.split(sep, 1)
            return await one(book, left), await one(book, right)
    words = text.split()
    for i in range(1, len(words)):
        a, b = await lookup(book, " ".join(words[:i])), await lookup(book, " ".join(words[i:]))
        if len(a) == 1 and len(b) == 1:
            return a[0], b[0]
    raise BadRequest("Type /merge <name> and <name> (addresses work too), e.g. /merge Acme and Acme Inc.")


async def _forget(c: cmd.RecordWord, core: Core) -> str:
    kind, _, name = c.text.strip().partition(" ")
    if not name.strip():
        raise BadRequest("Type /forget client <name>, e.g. /forget client Piotr Kowalski.")
    entity = await one(core.book, name, kind)
    src = source(c, core)
    said = f"{entity.kind} {entity.id} forgotten"
    event = RecordForgotten(at=src.at, task_id=src.where, actor=src.by, summary=said, detail={"record": entity.id})
    await core.book.forget(entity, [event])
    await core.facts.forget_about(sorted(entity.fixed_keys()))
    return f"✓ Forgot {entity.kind} {entity.id} for good: its record, timeline and what memory held about it."


WORDS: dict[str, Callable[[cmd.RecordWord, Core], Awaitable[str]]] = {
    "client": _edit,
    "merge": _merge,
    "forget": _forget,
}


async def link_applied(core: Core, proposal: Proposal, known: Mapping[int, list[str]] | None = None) -> None:
    """Each applied action on the timelines of the records it concerns; best effort, after the commit. `known`:
    the records of the actions this run applied, by index, as their `ActionApplied` events name them."""
    try:
        for index, action in enumerate(proposal.actions):
            if action.status is ActionStatus.APPLIED:
                ids = (known or {}).get(index)
                ids = await concerned(core.book, action.fields) if ids is None else ids
                line = Link(core.now(), action.kind, action.outcome or action.summary, f"{proposal.id}:{index}")
                await core.book.link(ids, line) if ids else None
    except Exception:
        log.exception("could not link proposal %s to its records", proposal.id)


async def link_rejected(core: Core, proposal: Proposal, who: str) -> None:
    """A rejected proposal on the timelines of the records it concerned: "decided" includes what was stopped."""
    try:
        ids = {i for a in proposal.actions for i in await concerned(core.book, a.fields)}
        what = proposal.summary.split("\n", 1)[0]
        line = Link(core.now(), "rejected", f"{what} (by {who})", f"{proposal.id}:rejected")
        await core.book.link(sorted(ids), line) if ids else None
    except Exception:
        log.exception("could not link proposal %s to its records", proposal.id)


async def concerned(book: RecordBook, fields: dict[str, object]) -> list[str]:
    """The records an action's fields name by a fixed key: an address in them, or a `record` it changes."""
    ids = [i for a in addresses_in(fields.values()) for i in await book.find(f"email:{a}")]
    named = await book.resolve(lookup_keys(str(fields["record"]))) if fields.get("record") else []
    return list(dict.fromkeys([*ids, *(e.id for e in named[:1])]))
