"""Which environment variable holds a hosted model provider's key, and whether this process can see it: `deputy
doctor`, `deputy shadow` and the model port ask the same question before any call is made."""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

PROVIDER_KEYS = {"openai": "OPENAI_API_KEY", "anthropic": "ANTHROPIC_API_KEY", "gemini": "GEMINI_API_KEY"}


def missing_key(model: str, api_base: str | None) -> str:
    """The provider key a hosted model needs that is neither in the environment nor in `./.env`, or ''. A model
    behind DEPUTY_LLM_API_BASE (a server of the operator's own) needs none."""
    key = PROVIDER_KEYS.get(model.split("/", 1)[0])
    if api_base or not key:
        return ""
    return "" if provider_env(key) else key


def provider_env(name: str) -> str:
    """A provider's variable (`OPENAI_API_KEY`, `OPENAI_BASE_URL`, …) from the environment, else from `./.env`:
    where litellm finds them (it loads `.env` as it is imported), so a call that skips litellm finds them too."""
    if value := os.environ.get(name):
        return value
    dotenv = Path(".env").resolve()
    if not dotenv.is_file():
        return ""
    found = dotenv.stat()
    return _dotenv(dotenv, (found.st_mtime_ns, found.st_size)).get(name, "")


@lru_cache(maxsize=4)
def _dotenv(path: Path, version: tuple[int, int]) -> dict[str, str]:
    """`.env`'s assignments, read once per version of the file (its mtime and size): a model call asks for
    several variables, and a file the operator edits is read again."""
    found: dict[str, str] = {}
    for line in path.read_text(errors="replace").splitlines():
        name, equals, value = line.strip().partition("=")
        if equals:  # the last assignment of a name counts, an empty one too
            found[name.strip()] = value.strip().strip("'\"")
    return found
