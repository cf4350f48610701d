"""Plug-in modules: the ones a package holds (found by walking it) and the ones `DEPUTY_PLUGINS` names (any
importable module, e.g. a test's own). Every registry (channels, sources, connectors) finds its plug-ins through
here, so a plug-in from outside Deputy's folders is loaded the same way in the web process and in each worker."""

from __future__ import annotations

import dataclasses
import importlib
import importlib.util
import pkgutil
from collections.abc import Iterable
from types import ModuleType
from typing import Any

from pydantic import SecretStr, ValidationError
from pydantic_settings import BaseSettings

from config.settings import Settings
from orchestrator.errors import ConfigError


def load(names: Iterable[str]) -> list[ModuleType]:
    """The modules named, imported; a name that does not import stops Deputy with one line naming it."""
    return [_import(name) for name in names]


def walk(package: str, *, inner: str = "") -> list[ModuleType]:
    """The package's modules (`inner` empty) or, for each of its sub-packages, its `inner` module if it has one
    (`bot/<channel>/plugin.py`), in name order."""
    found = sorted(pkgutil.iter_modules(importlib.import_module(package).__path__), key=lambda m: m.name)
    if not inner:
        return [importlib.import_module(f"{package}.{m.name}") for m in found]
    names = [f"{package}.{m.name}.{inner}" for m in found if m.ispkg]
    return [importlib.import_module(name) for name in names if importlib.util.find_spec(name) is not None]


def exported(modules: Iterable[ModuleType], attribute: str) -> list[object]:
    """What each module exports under `attribute` (`CHANNEL`, `SOURCE`), skipping modules that export none."""
    return [value for module in modules if (value := getattr(module, attribute, None)) is not None]


def _import(name: str) -> ModuleType:
    try:
        return importlib.import_module(name)
    except ImportError as err:
        raise ConfigError(f"configuration error: DEPUTY_PLUGINS: can't import {name!r} ({err})") from None


def values_for(kind: type[Any], settings: Settings) -> Any:
    """A plug-in's own settings as plain values: a dataclass's fields are read from `Settings` by name (checked
    there at start; secrets unwrapped), a pydantic-settings model reads its own variables (a plug-in from
    outside, whose variables `Settings` lacks)."""
    if issubclass(kind, BaseSettings):
        return _own(kind)
    names = [f.name for f in dataclasses.fields(kind)]
    return kind(**{name: _plain(getattr(settings, name)) for name in names})


def _plain(value: Any) -> Any:
    return value.get_secret_value() if isinstance(value, SecretStr) else value


def _own(kind: type[BaseSettings]) -> BaseSettings:
    """A wrong value stops Deputy the way `Settings` does: one line naming the variable."""
    try:
        return kind()
    except ValidationError as err:
        first = err.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise ConfigError(f"configuration error: {where}: {first['msg'].removeprefix('Value error, ')}") from None
