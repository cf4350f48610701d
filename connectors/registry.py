"""The one finder of connectors: every module in `connectors/` that defines `build(values, redis) -> Connector |
None` is one (docs/connectors.md says what else it declares). Each is built from its own settings, as plain values,
and put behind its own circuit breaker; its doctor check runs in `deputy doctor`."""

from __future__ import annotations

import dataclasses
import importlib
import pkgutil
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from functools import cache
from types import ModuleType
from typing import Any, cast

from pydantic import SecretStr, ValidationError
from pydantic_settings import BaseSettings
from redis.asyncio import Redis

import connectors
from config.settings import Settings
from connectors.breaker import Breaker, Guarded
from orchestrator.errors import ConfigError
from orchestrator.kinds import Check, Traits
from orchestrator.ports import Connector

Build = Callable[[Any, Redis], Connector | None]
Doctor = Callable[[Any], Awaitable[list[Check]]]


@dataclass(frozen=True)
class Plugin:
    """What a connector module declares: `TRAITS`, its settings (`Values`), `build` and, if it has one, `doctor`."""

    name: str
    traits: Traits
    values: type[Any]
    build: Build
    doctor: Doctor | None = None

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
        return cls(name, module.TRAITS, module.Values, cast(Build, build), cast(Doctor | None, doctor))

    def settings(self, settings: Settings) -> Any:
        """Its own settings as plain values: a dataclass's fields are read from `Settings` (which checked them at
        start), a pydantic-settings model reads its own variables (a connector whose variables `Settings` lacks)."""
        if issubclass(self.values, BaseSettings):
            return _own(self.values)
        names = [f.name for f in dataclasses.fields(self.values)]
        return self.values(**{name: _plain(getattr(settings, name)) for name in names})


@cache
def plugins() -> tuple[Plugin, ...]:
    """The connector modules in `connectors/`, by module name."""
    found = (importlib.import_module(f"connectors.{m.name}") for m in pkgutil.iter_modules(connectors.__path__))
    return tuple(p for module in found if (p := Plugin.of(module)) is not None)


def build_all(settings: Settings, redis: Redis, extra: Iterable[Plugin] = ()) -> dict[str, Connector]:
    """The installed connectors by kind (`extra`: plug-ins from elsewhere, e.g. a test's own module)."""
    built = [c for p in (*plugins(), *extra) if (c := p.build(p.settings(settings), redis)) is not None]
    return {c.kind: Guarded(c, Breaker(redis, c.kind)) for c in built}


def traits(installed: dict[str, Connector]) -> frozenset[Traits]:
    return frozenset(c.traits for c in installed.values())


async def doctor_all(settings: Settings) -> list[Check]:
    """Each connector's own lines, in module order."""
    return [c for p in plugins() if p.doctor is not None for c in await p.doctor(p.settings(settings))]


def _plain(value: Any) -> Any:
    return value.get_secret_value() if isinstance(value, SecretStr) else value


def _own(values: type[BaseSettings]) -> BaseSettings:
    """A wrong value stops Deputy the way `Settings` does: one line naming the variable."""
    try:
        return values()
    except ValidationError as err:
        first = err.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise ConfigError(f"configuration error: {where}: {first['msg'].removeprefix('Value error, ')}") from None
