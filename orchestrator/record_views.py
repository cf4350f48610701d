"""The read side of records: the `/who` card, `/clients [status]` and `/projects`. Open work is found by the same
fixed keys as everything else — an address in a proposal's fields, the record an action names, the exact name
or address in a running task or a scheduled request — never by a guess."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from orchestrator.core import Core
from orchestrator.errors import BadRequest
from orchestrator.model import Proposal
from orchestrator.ports import OpenWork
from orchestrator.records import Entity, Link, addresses_in, fold, implied_domain, lookup_keys, shown
from orchestrator.text import one_line
from orchestrator.views import headline

CARDS = 3
LAST = 5
OPEN = 200
"""At most this many of each open thing (pending proposals, running tasks, requests for later, projects)."""
LIST = 50
SKIP = ("name",)


async def who_text(core: Core, query: str) -> str:
    """The record, its timeline and everything open are read in one round trip, then matched here."""
    if not query.strip():
        raise BadRequest("Type /who <name | email | domain>, e.g. /who Acme or /who jane@acme.com.")
    found, now = await core.book.who(lookup_keys(query, loose=True), LAST, OPEN)
    if not found:
        return f"No client or project matches {query!r} by address, domain or exact name. /clients lists them."
    cards = [card(e, last, now) for e, last in found[:CARDS]]
    more = f"\n…and {len(found) - CARDS} more at {query}: /clients lists them." if len(found) > CARDS else ""
    return "\n\n".join(cards) + more


def card(entity: Entity, last: list[Link], now: OpenWork) -> str:
    """Who they are, what is open with them, what was last sent and decided, and the fields with their sources."""
    lines = [_title(entity), *_fields(entity)]
    lines += _section("Open", open_work(entity, now))
    lines += _section("Last", [_line(link) for link in last])
    lines += _section("On record", _sources(entity))
    return "\n".join(lines)


def _title(e: Entity) -> str:
    status = f" · {e.fields['status']}" if e.fields.get("status") else ""
    merged = f" · merged {', '.join(e.merged)}" if e.merged else ""
    return f"{e.name} ({e.id}) · {e.kind}{status} · v{e.version}{merged}"


def _fields(e: Entity) -> list[str]:
    parts = [f"{k} {shown(v)}" for k, v in e.fields.items() if k not in (*SKIP, "status", "notes")]
    domain = implied_domain(e.fields.get("emails", []))
    if domain and "domain" not in e.fields:
        parts.append(f"domain {domain}")
    return [f"  {one_line(' · '.join(parts), 300)}"] if parts else []


def _section(title: str, lines: Sequence[str]) -> list[str]:
    return [f"{title}:", *(f"  {line}" for line in lines)] if lines else [f"{title}: nothing"]


def open_work(entity: Entity, now: OpenWork) -> list[str]:
    """Pending proposals, running tasks, requests scheduled for later, and (for a client) its projects."""
    needles = _needles(entity)
    lines = [f"waiting: {p.id} {headline(p)}  (/approve {p.id})" for p in now.pending if _concerns(p, entity)]
    lines += [f"running: {t.id} {one_line(t.text, 80)}" for t in now.running if _names(t.text, needles)]
    lines += [f"scheduled {_date(s.at)}: {one_line(s.request, 80)}" for s in now.later if _names(s.request, needles)]
    return lines + _projects(entity, now.projects)


def _concerns(proposal: Proposal, entity: Entity) -> bool:
    """By the keys `concerned` follows: an address in an action's fields that is this record's (addresses are
    unique keys), or the record an action changes, named by its id or one of its keys."""
    mine = {a.lower() for a in entity.fields.get("emails", [])}
    for action in proposal.actions:
        if mine & set(addresses_in(action.fields.values())):
            return True
        named = str(action.fields.get("record", ""))
        if named and (named == entity.id or set(lookup_keys(named)) & entity.fixed_keys()):
            return True
    return False


def _needles(entity: Entity) -> list[str]:
    return [*entity.fields.get("emails", []), *(fold(n) for n in [entity.name, *entity.fields.get("aliases", [])] if n)]


def _names(text: str, needles: Sequence[str]) -> bool:
    low = fold(text)
    return any(n and n in low for n in needles)


def _projects(entity: Entity, projects: list[Entity]) -> list[str]:
    if entity.kind != "client":
        return []
    names = {fold(n) for n in [entity.name, *entity.fields.get("aliases", [])]}
    return [f"project: {_project(p)}" for p in projects if fold(str(p.fields.get("client", ""))) in names]


def _project(p: Entity) -> str:
    parts = [p.name, *(f"{k} {shown(p.fields[k])}" for k in ("status", "due", "next_step") if p.fields.get(k))]
    return " · ".join(parts)


def _line(link: Link) -> str:
    return f"{_date(link.at)} {link.what}: {one_line(link.text, 100)}"


def _sources(entity: Entity) -> list[str]:
    lines = []
    for name, value in entity.fields.items():
        change = entity.sourced(name)
        said = f" — {change.by}, {_date(change.at)} ({change.where})" if change else ""
        lines.append(f"{name}: {one_line(shown(value), 80)}{said}")
    return lines


def _date(at: datetime) -> str:
    return f"{at.day} {at:%b %H:%M}"


async def clients_text(core: Core, status: str) -> str:
    status = status.strip().lower()
    ids = await core.book.ids("client")
    found = [e for e in [await core.book.get(i) for i in ids[: LIST * 20]] if e is not None]
    chosen = [e for e in found if not status or e.fields.get("status") == status]
    if not chosen:
        said = f" with status {status}" if status else ""
        return f"No clients{said} yet. /client <name> <field> <value> adds one; deputy import FILE brings a list."
    lines = [f"Clients{f' ({status})' if status else ''}: {len(chosen)}"]
    lines += [f"  {e.name} ({e.id}) {_brief(e)}" for e in sorted(chosen, key=lambda e: fold(e.name))[:LIST]]
    return "\n".join(
        lines + ([f"  …/who <name> for one of the other {len(chosen) - LIST}"] if len(chosen) > LIST else [])
    )


def _brief(e: Entity) -> str:
    parts = [shown(e.fields.get(k)) for k in ("status", "emails", "terms") if e.fields.get(k)]
    return "· " + " · ".join(parts) if parts else ""


async def projects_text(core: Core) -> str:
    found = [e for e in [await core.book.get(i) for i in await core.book.ids("project")] if e is not None]
    if not found:
        return "No projects yet. /client project <name> client <client name> adds one."
    lines = [f"Projects: {len(found)}", *(f"  {_project(p)} ({p.id})" for p in found[:LIST])]
    return "\n".join(lines)
