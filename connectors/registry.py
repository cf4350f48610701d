"""The one finder of connectors: every module in `connectors/` that defines `build(values, redis) -> Connector |
None` (or a tuple of them, one per kind it serves) is one (docs/connectors.md says what else it declares). Each
is built from its own settings, as plain values, and put behind its own circuit breaker; its doctor check runs in
`deputy doctor`."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from functools import cache
from types import ModuleType
from typing import Any, cast

from redis.asyncio import Redis

from config.plugins import load, values_for, walk
from config.settings import Settings
from connectors.breaker import Breaker, Guarded
from orchestrator.kinds import Check, Traits
from orchestrator.ports import Connector

Build = Callable[[Any, Redis], Connector | tuple[Connector, ...] | None]
Doctor = Callable[[Any], Awaitable[list[Check]]]


@dataclass(frozen=True)
class Plugin:
    """What a connector module declares: `TRAITS`, its settings (`Values`), `build` and, if it has one, `doctor`."""

    name: str
    kinds: tuple[Traits, ...]
    """`TRAITS`: one kind's, or a tuple for a module that serves a family (`record.create`, `record.update`)."""
    values: type[Any]
    build: Build
    doctor: Doctor | None = None

    @property
    def traits(self) -> Traits:
        """The first kind's traits: the only one, for most connector modules."""
        return self.kinds[0]

    @classmethod
    def of(cls, module: ModuleType) -> Plugin | None:
        build = getattr(module, "build", None)
        if not callable(build):
            return None
        name = module.__name__.rpartition(".")[2]
        missing = [attr for attr in ("TRAITS", "Values") if not hasattr(module, attr)]
        if missing:
            raise TypeError(f"connector module {module.__name__} defines build but not {', '.join(missing)}")
        doctor = getattr(module, "doctor", None)
        kinds = module.TRAITS if isinstance(module.TRAITS, tuple) else (module.TRAITS,)
        return cls(name, kinds, module.Values, cast(Build, build), cast(Doctor | None, doctor))

    def settings(self, settings: Settings) -> Any:
        """Its own settings as plain values (config/plugins.py: read from `Settings`, or its own variables)."""
        return values_for(self.values, settings)


@cache
def plugins(named: tuple[str, ...] = ()) -> tuple[Plugin, ...]:
    """The connector modules in `connectors/`, by module name, then those of the modules `DEPUTY_PLUGINS` names
    that declare a connector (a module may declare a channel or a source instead)."""
    found = (*walk("connectors"), *load(named))
    return tuple(p for module in found if (p := Plugin.of(module)) is not None)


def build_all(settings: Settings, redis: Redis, extra: Iterable[Plugin] = ()) -> dict[str, Connector]:
    """The installed connectors by kind (`extra`: plug-ins handed in directly, e.g. a test's own)."""
    chosen = (*plugins(settings.plugins), *extra)
    built = [_each(p.build(p.settings(settings), redis)) for p in chosen]
    return {c.kind: Guarded(c, Breaker(redis, c.kind)) for family in built for c in family}


def _each(built: Connector | tuple[Connector, ...] | None) -> tuple[Connector, ...]:
    return () if built is None else built if isinstance(built, tuple) else (built,)


def traits(installed: dict[str, Connector]) -> frozenset[Traits]:
    return frozenset(c.traits for c in installed.values())


async def doctor_all(settings: Settings) -> list[Check]:
    """Each connector's own lines, in module order."""
    chosen = plugins(settings.plugins)
    return [c for p in chosen if p.doctor is not None for c in await p.doctor(p.settings(settings))]
