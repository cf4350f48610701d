"""OpenAI's prices and capabilities from litellm's bundled price list, read as JSON without importing litellm.

`import litellm` costs seconds of CPU and ~130 MB (issue 30); the native OpenAI-compatible transport
(agents/openai_compat.py) needs only a handful of numbers from the file litellm ships beside its code,
`model_prices_and_context_window_backup.json`. `importlib.util.find_spec` finds the package without running its
`__init__` (a top-level name has no parent to import), the file is parsed once, on first use, and only OpenAI's
entries (~200 of 4,000) are kept. The figures are litellm's own: `completion_cost` prices a call by the model the
response names when the list knows it, else by the model asked for, with cached prompt tokens at the cache-read
rate and the rates for long prompts past their threshold (`tests/agents/test_openai_compat.py` checks both against
litellm itself)."""

from __future__ import annotations

import importlib.util
import json
import re
from functools import cache
from pathlib import Path
from typing import Any

FILE = "model_prices_and_context_window_backup.json"
PROVIDER = "openai"
_ABOVE = re.compile(r"^input_cost_per_token_above_(\d+)k_tokens$")

Entry = dict[str, Any]


def path() -> Path | None:
    """Where litellm's copy of the list is, if litellm is installed (it is: other providers need it)."""
    spec = importlib.util.find_spec("litellm")
    places = list(spec.submodule_search_locations or []) if spec else []
    found = [Path(place) / FILE for place in places if (Path(place) / FILE).is_file()]
    return found[0] if found else None


@cache
def entries() -> dict[str, Entry]:
    """OpenAI's entries by bare name (`gpt-4o-mini`), parsed once per process; the rest of the file is dropped."""
    where = path()
    if where is None:
        return {}
    every: dict[str, Any] = json.loads(where.read_text())
    kept = {name: e for name, e in every.items() if isinstance(e, dict) and e.get("litellm_provider") == PROVIDER}
    return {name.removeprefix(f"{PROVIDER}/"): entry for name, entry in kept.items()}


def entry(model: str) -> Entry | None:
    """The list's entry for `openai/<name>` (or a bare name), None where the list has no price for it."""
    found = entries().get(model.removeprefix(f"{PROVIDER}/"))
    return found if found and "input_cost_per_token" in found else None


def known(model: str) -> bool:
    return entry(model) is not None


def takes_schema(model: str) -> bool:
    """litellm's `supports_response_schema` for an OpenAI model: what its list says, no for a name it lacks."""
    found = entries().get(model.removeprefix(f"{PROVIDER}/"))
    return bool(found and found.get("supports_response_schema"))


def takes_temperature(model: str) -> bool:
    """litellm's rule for OpenAI's gpt-5 family: temperature 0 goes only to a model that takes reasoning effort
    "none" and defaults to it (gpt-5.1, 5.2, 5.4), not to one that merely takes it (gpt-5.5); a list that declares
    no model's default (older than the rule) counts taking it as enough."""
    found = entries().get(model.removeprefix(f"{PROVIDER}/")) or {}
    if not found.get("supports_none_reasoning_effort"):
        return False
    if "default_reasoning_effort" in found:
        return bool(found["default_reasoning_effort"] == "none")
    return not _declares_defaults()


@cache
def _declares_defaults() -> bool:
    return any("default_reasoning_effort" in e for e in entries().values())


def cost(models: list[str], tokens_in: int, tokens_out: int, cached: int = 0) -> float | None:
    """Dollars for a call, priced by the first of `models` the list knows (the response's model, then the one asked
    for, as litellm does); None when it knows neither."""
    found = next((e for m in models if m and (e := entry(m)) is not None), None)
    if found is None:
        return None
    rates = _rates(found, tokens_in)
    cached = min(cached, tokens_in)
    return (tokens_in - cached) * rates[0] + cached * rates[2] + tokens_out * rates[1]


def estimate(model: str, tokens_in: int, max_tokens: int) -> float:
    """The worst case the budget reserves: every prompt token uncached, the whole room written."""
    found = entry(model)
    if found is None:
        return 0.0
    rates = _rates(found, tokens_in)
    return tokens_in * rates[0] + max_tokens * rates[1]


def _rates(found: Entry, tokens_in: int) -> tuple[float, float, float]:
    """(input, output, cache read) per token; a long prompt's own rates past the threshold the entry names."""
    suffix = ""
    for key in found:
        if (match := _ABOVE.match(key)) and tokens_in > int(match[1]) * 1000:
            suffix = f"_above_{match[1]}k_tokens"
    base_in = float(found.get(f"input_cost_per_token{suffix}", found["input_cost_per_token"]) or 0)
    out = float(found.get(f"output_cost_per_token{suffix}", found.get("output_cost_per_token")) or 0)
    read = found.get(f"cache_read_input_token_cost{suffix}", found.get("cache_read_input_token_cost"))
    return base_in, out, float(read) if read is not None else base_in
