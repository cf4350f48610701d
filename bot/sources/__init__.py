"""Sources are plug-ins: what brings work in without a person typing it (signed inbound hooks today, an email
inbox next). Each module here that exports `SOURCE`, and each module DEPUTY_PLUGINS names that does, is one.
A source stores each item through `take` — its dedupe claims, its task's id and the item in one write to the
durable inbox, before it acknowledges anything — and the item then starts its task behind the ack, sharing the
ingress's turns with the chat channels (bot/ingress.py). docs/plugins.md says how to add one."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any, Protocol, cast

from aiohttp import web

from bot.channels import Mount
from bot.ingress import Handler, Ingress
from config import plugins
from config.settings import Settings
from memory import keys
from memory.inbox import Claim, Entry, Kept
from memory.store import new_candidate
from orchestrator.coordinator import Coordinator
from orchestrator.model import ChatRef

DEDUPE_S = 2 * 24 * 3600
"""An item seen again within two days starts no second task, whatever else it carries."""


class Source(Protocol):
    name: str
    """Its `/metrics` label (`hooks`)."""
    paths: tuple[str, ...]
    """URL prefixes it serves (`/hooks/`), if any."""
    values: type[Any]
    """Its settings: a dataclass of `Settings` fields, or a pydantic-settings model of its own variables."""

    def configured(self, values: Any) -> bool: ...

    def start(self, app: web.Application, values: Any, at: Mount) -> None:
        """Mount its routes and/or put its loop in the app's `cleanup_ctx`; register its ingress handler
        (`as_task` for items that start a task)."""
        ...


@dataclass(frozen=True)
class Taken:
    """What `take` did: stored with its task's id, or refused as a duplicate (`task` empty)."""

    task: str = ""
    duplicate: bool = False
    entry: str = ""
    """The stored item's inbox entry, whose work `Ingress.finished` waits for."""


@cache
def builtin() -> tuple[Source, ...]:
    return tuple(cast(Source, s) for s in plugins.exported(plugins.walk(__name__), "SOURCE"))


def installed(settings: Settings | None = None) -> tuple[Source, ...]:
    """Deputy's own sources, then those DEPUTY_PLUGINS adds."""
    extra = plugins.exported(plugins.load(settings.plugins), "SOURCE") if settings else []
    return (*builtin(), *(cast(Source, s) for s in extra))


def configured(settings: Settings) -> list[tuple[Source, Any]]:
    found = ((s, plugins.values_for(s.values, settings)) for s in installed(settings))
    return [(source, values) for source, values in found if source.configured(values)]


Keeping = Callable[[str], Kept]
"""A record to write with the item, given the task id it is stored with (`take`'s `kept`)."""


async def take(
    ingress: Ingress,
    kind: str,
    item: dict[str, str],
    *,
    dedupe: Sequence[str],
    ttl: int = DEDUPE_S,
    kept: Keeping | None = None,
) -> Taken:
    """One write: the dedupe claims, the task's id reserved under the key `as_task` gives it, the item stored
    (`kind` names the ingress handler; `item` has `name`, `body`, `delivery`; the stored copy also `task`, that
    id). Neither stored nor a duplicate: no free task id was drawn, try again later. A Redis fault raises: the
    source answers 503, or leaves the item where it was, and it comes again. `ttl`: how long the dedupe claims
    hold (0: for good, as an email's do). `kept`: the source's own record of the item, written in the same step
    (memory/inbox.py `Kept`)."""
    task_key = f"hook:{item['name']}:{item['delivery']}"  # what coordinator.receive_hook keys the task by
    for _ in range(5):
        taken = await _take_once(ingress, kind, item, dedupe, task_key, ttl, kept)
        if taken is not None:
            return taken
    return Taken()


async def _take_once(
    ingress: Ingress,
    kind: str,
    item: dict[str, str],
    dedupe: Sequence[str],
    task_key: str,
    ttl: int = DEDUPE_S,
    kept: Keeping | None = None,
) -> Taken | None:
    """None: the random id drawn was issued before; draw another."""
    task_id = new_candidate("t")
    claims = [Claim(key, ttl=ttl) for key in dedupe]
    claims += [Claim(keys.id_for(task_key), task_id, DEDUPE_S), Claim(keys.issued_id(task_id), "1")]
    record = kept(task_id) if kept else None
    stored = await ingress.accept(kind, {**item, "task": task_id}, claims, record)  # its handler needn't look it up
    if stored.entry_id:
        return Taken(task=task_id, entry=stored.entry_id)
    if stored.taken != keys.issued_id(task_id):
        return Taken(duplicate=True)
    return None


def as_task(coordinator: Coordinator, report_to: ChatRef) -> Handler:
    """The ingress handler of a stored item that starts a task: its body is untrusted data, never chat words;
    its `delivery` finds the same task if the stored copy is handled twice."""

    async def start(entry: Entry) -> None:
        fields = entry.fields
        await coordinator.receive_hook(
            name=fields["name"],
            body=fields["body"],
            delivery=fields["delivery"],
            chat=report_to,
            task_id=fields.get("task", ""),
        )

    return start
