"""The built-in model as a litellm custom provider: `litellm.acompletion(model="offline/deputy", …)` answers
exactly what the direct `offline` transport does, at a registered price of $0 — so anything built on litellm
(and Deputy itself, with DEPUTY_LLM_MODEL=offline/deputy) can use it (LIBRARY-NOTES: build the response
ourselves; `mock_response` would leak another model's name and price into cost tracking)."""

from __future__ import annotations

from typing import Any

from agents.litellm_lib import CHARS_PER_TOKEN, approx_tokens, litellm
from agents.offline import OfflineModel

PROVIDER = "offline"
MODEL = f"{PROVIDER}/deputy"


def register(model: OfflineModel) -> None:
    lib: Any = litellm()
    handler = _handler_class(lib)(model)
    others = [p for p in lib.custom_provider_map if p.get("provider") != PROVIDER]
    lib.custom_provider_map = [*others, {"provider": PROVIDER, "custom_handler": handler}]
    lib.register_model(
        {
            MODEL: {
                "input_cost_per_token": 0.0,
                "output_cost_per_token": 0.0,
                "litellm_provider": PROVIDER,
                "mode": "chat",
            }
        }
    )


def _handler_class(lib: Any) -> Any:
    class OfflineHandler(lib.CustomLLM):  # type: ignore[misc]
        def __init__(self, model: OfflineModel) -> None:
            super().__init__()
            self.model = model

        async def acompletion(self, *args: Any, **kwargs: Any) -> Any:
            messages = kwargs["messages"]
            return _response(lib, await self.model.respond(messages), messages)

    return OfflineHandler


def _response(lib: Any, text: str, messages: list[dict[str, Any]]) -> Any:
    tokens_in, tokens_out = approx_tokens(messages), len(text) // CHARS_PER_TOKEN
    return lib.ModelResponse(
        model=MODEL,
        choices=[{"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": text}}],
        usage={"prompt_tokens": tokens_in, "completion_tokens": tokens_out, "total_tokens": tokens_in + tokens_out},
    )
