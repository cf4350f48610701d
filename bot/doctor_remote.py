"""`deputy doctor`'s checks of services outside Deputy: the model, Weaviate (each channel checks its own platform:
bot/<channel>/plugin.py, with `fetch` from here). Plain HTTP to
the configured base URLs (so a local fake answers in tests); nothing here changes remote state."""

from __future__ import annotations

from typing import Any

import aiohttp

from agents import price_list
from agents.openai_compat import native
from bot.checks import Check
from bot.doctor_model import check_model_calls
from config.providers import missing_key
from config.settings import Settings

TIMEOUT = aiohttp.ClientTimeout(total=5)
NETWORK_ERRORS = (aiohttp.ClientError, TimeoutError)


async def fetch(method: str, url: str, **kwargs: Any) -> tuple[int, dict[str, Any], dict[str, str]]:
    async with aiohttp.ClientSession(timeout=TIMEOUT) as session, session.request(method, url, **kwargs) as r:
        try:
            body = await r.json(content_type=None) if r.content_length != 0 else {}
        except ValueError:  # an HTML error page from a proxy or an outage
            body = {"description": f"it answered {r.status} with no JSON"}
        return r.status, body if isinstance(body, dict) else {}, {k.lower(): v for k, v in r.headers.items()}


def why(err: BaseException) -> str:
    return str(err) or type(err).__name__


async def check_model(settings: Settings) -> list[Check]:
    if settings.llm_model in ("offline", "offline/deputy"):
        return [Check("Model", True, f"{settings.llm_model} (built in, deterministic, free)")]
    pricing = _pricing(settings.llm_model)
    if settings.llm_api_base:
        reached = await _reachable(settings.llm_api_base)
        return [pricing, reached, *(await check_model_calls(settings) if reached.ok else [])]
    key = missing_key(settings.llm_model, settings.llm_api_base)
    if key:
        return [pricing, Check("Model", False, f"{settings.llm_model} needs {key} in the environment or .env")]
    configured = Check("Model", True, f"{settings.llm_model} configured")
    return [pricing, configured, *await check_model_calls(settings)]


async def _reachable(api_base: str) -> Check:
    try:
        status, _, _ = await fetch("GET", api_base.rstrip("/") + "/models")
    except NETWORK_ERRORS as err:
        return Check("Model", False, f"can't reach DEPUTY_LLM_API_BASE {api_base} ({why(err)})")
    if status >= 400:
        return Check("Model", False, f"{api_base}/models answered {status}: check the URL and the key")
    return Check("Model", True, f"{api_base} answers")


def _pricing(model: str) -> Check:
    """litellm's price list (the local copy: LITELLM_LOCAL_MODEL_COST_MAP is set before import); for `openai/…`
    the same list read without importing litellm, as the workers read it (agents/price_list.py)."""
    if native(model):
        return _priced(model, price_list.known(model))
    import litellm

    try:
        litellm.get_model_info(model)
    except Exception:
        return _priced(model, False)
    return _priced(model, True)


def _priced(model: str, known: bool) -> Check:
    if not known:
        return Check("Model pricing", True, f"no known price for {model}: its cost will show as unpriced", info=True)
    return Check("Model pricing", True, f"price known for {model}")


async def check_weaviate(settings: Settings) -> list[Check]:
    if settings.memory_backend != "weaviate":
        return [Check("Memory", True, f"local backend in {settings.data_dir}")]
    if not settings.weaviate_url:
        return [Check("Memory", False, "DEPUTY_MEMORY_BACKEND=weaviate needs DEPUTY_WEAVIATE_URL")]
    try:
        status, _, _ = await fetch("GET", settings.weaviate_url.rstrip("/") + "/v1/.well-known/ready")
    except NETWORK_ERRORS as err:
        return [Check("Memory", False, f"Weaviate at {settings.weaviate_url} is unreachable ({why(err)})")]
    ready = status == 200
    return [
        Check(
            "Memory", ready, f"Weaviate at {settings.weaviate_url} is {'ready' if ready else f'not ready ({status})'}"
        )
    ]
