"""Every module in `connectors/` that defines `build(settings, redis) -> Connector | None` is a connector:
adding one is adding one file (docs/connectors.md). Each is put behind its own circuit breaker."""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable
from functools import cache
from typing import cast

from redis.asyncio import Redis

import connectors
from config.settings import Settings
from connectors.breaker import Breaker, Guarded
from orchestrator.ports import Connector

Build = Callable[[Settings, Redis], Connector | None]


@cache
def builders() -> dict[str, Build]:
    found: dict[str, Build] = {}
    for module in pkgutil.iter_modules(connectors.__path__):
        loaded = importlib.import_module(f"connectors.{module.name}")
        build = getattr(loaded, "build", None)
        if callable(build):
            found[module.name] = cast(Build, build)
    return found


def build_all(settings: Settings, redis: Redis) -> dict[str, Connector]:
    built = [c for build in builders().values() if (c := build(settings, redis)) is not None]
    return {c.kind: Guarded(c, Breaker(redis, c.kind)) for c in built}
