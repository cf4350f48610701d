"""Which environment variable holds a hosted model provider's key, and whether this process can see it: `deputy
doctor`, `deputy shadow` and the model port ask the same question before any call is made."""

from __future__ import annotations

import os
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
    dotenv = Path(".env")
    lines = dotenv.read_text(errors="replace").splitlines() if dotenv.is_file() else []
    found = [line.split("=", 1)[1].strip() for line in lines if line.strip().startswith(f"{name}=")]
    return found[-1].strip("'\"") if found and found[-1] else ""
