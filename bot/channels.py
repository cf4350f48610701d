"""Channels are plug-ins: a sub-package of `bot/` whose `plugin` module exports `CHANNEL` (Slack, Telegram, the
console), or any module `DEPUTY_PLUGINS` names that exports one. The web app, the outboxes, `/metrics`, `deputy
doctor` and the wiring go through this registry and name no platform; docs/plugins.md says how to add one."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Any, Protocol, cast

from redis.asyncio import Redis

from bot.checks import Check
from bot.ingress import Ingress
from config import plugins
from config.settings import Settings
from orchestrator.coordinator import Coordinator
from orchestrator.model import ChatRef
from orchestrator.ports import ChatOutbox

if TYPE_CHECKING:  # a worker posts through channels and never serves: aiohttp's server is not imported for it
    from aiohttp import web


@dataclass(frozen=True)
class Mount:
    """What a channel or a source is plugged into when the web app starts."""

    coordinator: Coordinator
    ingress: Ingress
    """The durable inbox with its fairness: store before the ack, work behind it (bot/ingress.py)."""
    outboxes: Mapping[str, ChatOutbox]
    report_to: ChatRef
    """Where work no chat started goes (DEPUTY_DIGEST_CHANNEL, else the first operator's DM)."""
    redis: Redis
    """For what a plug-in keeps of its own (a source's cursor, a prompt's memory)."""


class Channel(Protocol):
    """A chat platform. Its renderer, button encoding and command menu live in its own sub-package: its outbox
    renders, its inbound side reads its buttons, its `mount` sets its menu."""

    platform: str
    """`ChatRef.platform`, the prefix in DEPUTY_OPERATORS and DEPUTY_DIGEST_CHANNEL, its `/metrics` label."""
    paths: tuple[str, ...]
    """URL prefixes it serves (`/slack/`): requests under them are counted under its label."""
    values: type[Any]
    """Its settings: a dataclass of `Settings` fields, or a pydantic-settings model of its own variables."""
    chat: bool
    """An operator chats on it: `deputy up` opens the console at a terminal only when none is configured."""

    def configured(self, values: Any) -> bool: ...

    def outbox(self, values: Any, redis: Redis) -> ChatOutbox:
        """Its outbox; workers post through it too. Import heavy clients on first use, not here."""
        ...

    def preload(self, values: Any) -> None:
        """Import its clients now (a forking worker does, once, before its first job)."""
        ...

    def mount(self, app: web.Application, values: Any, at: Mount) -> None:
        """Its routes, and its connection (polling, a socket) in the app's `cleanup_ctx`."""
        ...

    async def doctor(self, values: Any) -> list[Check]: ...


@cache
def builtin() -> tuple[Channel, ...]:
    return tuple(cast(Channel, c) for c in plugins.exported(plugins.walk("bot", inner="plugin"), "CHANNEL"))


def installed(settings: Settings) -> tuple[Channel, ...]:
    """Deputy's own channels, then those DEPUTY_PLUGINS adds."""
    extra = plugins.exported(plugins.load(settings.plugins), "CHANNEL")
    return (*builtin(), *(cast(Channel, c) for c in extra))


def configured(settings: Settings) -> list[tuple[Channel, Any]]:
    """The channels whose settings are there, each with its plain values."""
    found = ((c, plugins.values_for(c.values, settings)) for c in installed(settings))
    return [(channel, values) for channel, values in found if channel.configured(values)]


def chatting(settings: Settings) -> tuple[str, ...]:
    """The configured platforms an operator chats on (the scheduler's alerts, `deputy up`'s console)."""
    return tuple(channel.platform for channel, _ in configured(settings) if channel.chat)


def unknown_platforms(settings: Settings) -> list[str]:
    """Platforms DEPUTY_OPERATORS or DEPUTY_DIGEST_CHANNEL name that no installed channel is."""
    known = {c.platform for c in installed(settings)}
    named = [chat.platform for chat in (*settings.operator_chats, settings.report_chat)]
    return sorted({p for p in named if p not in known})
