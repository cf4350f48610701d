"""litellm, loaded on first use, and the token estimate budgets reserve by: what the transports and the built-in
model's litellm provider need, kept apart so none imports another. litellm serves every provider but `openai/…`
(agents/openai_compat.py calls those without it), so a Deputy whose models are all `openai/…` or `offline` never
imports it."""

from __future__ import annotations

import os
from types import ModuleType

from agents.prompts import Message

CHARS_PER_TOKEN = 3  # a cautious estimate (English runs ~4): budgets reserve a little more than they spend


def approx_tokens(messages: list[Message]) -> int:
    return sum(len(str(m.get("content", ""))) for m in messages) // CHARS_PER_TOKEN + 4 * len(messages)


def litellm() -> ModuleType:
    """The module, configured; the import takes seconds and ~130 MB, so only the job process pays it, as it starts,
    and only where a configured model needs it (bot/wiring.py `preload_models`)."""
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")  # never fetch a price list at import
    import litellm as module

    module.suppress_debug_info = True
    module.drop_params = True  # a provider without JSON mode gets the prompt's instructions alone
    return module
