"""`deputy doctor`'s checks of services outside Deputy: Slack, Telegram, the model, Weaviate. Plain HTTP to
the configured base URLs (so a local fake answers in tests); nothing here changes remote state."""

from __future__ import annotations

import os
from typing import Any

import aiohttp

from bot.checks import Check
from config.settings import Settings

SLACK_SCOPES = ("chat:write", "im:history", "app_mentions:read", "commands", "users:read")
PROVIDER_KEYS = {"openai": "OPENAI_API_KEY", "anthropic": "ANTHROPIC_API_KEY", "gemini": "GEMINI_API_KEY"}
TIMEOUT = aiohttp.ClientTimeout(total=5)
NETWORK_ERRORS = (aiohttp.ClientError, TimeoutError)


async def fetch(method: str, url: str, **kwargs: Any) -> tuple[int, dict[str, Any], dict[str, str]]:
    async with aiohttp.ClientSession(timeout=TIMEOUT) as session, session.request(method, url, **kwargs) as r:
        try:
            body = await r.json(content_type=None) if r.content_length != 0 else {}
        except ValueError:  # an HTML error page from a proxy or an outage
            body = {"description": f"it answered {r.status} with no JSON"}
        return r.status, body if isinstance(body, dict) else {}, {k.lower(): v for k, v in r.headers.items()}


def _why(err: BaseException) -> str:
    return str(err) or type(err).__name__


async def check_console(settings: Settings) -> list[Check]:
    return [Check("Console", True, "always available ('deputy chat')")]


async def check_slack(settings: Settings) -> list[Check]:
    token, secret, app = settings.slack_bot_token, settings.slack_signing_secret, settings.slack_app_token
    if not (token or secret or app):
        return [Check("Slack", True, "off (no credentials)", info=True)]
    if not token:
        return [Check("Slack", False, "SLACK_BOT_TOKEN is missing (xoxb-…, from the app's OAuth page)")]
    if not secret and not app:
        return [
            Check(
                "Slack",
                False,
                "SLACK_SIGNING_SECRET is missing: requests to /slack/events can't be "
                "verified (or set SLACK_APP_TOKEN to use Socket Mode)",
            )
        ]
    url = settings.slack_api_url.rstrip("/") + "/auth.test"
    try:
        _, body, headers = await fetch("POST", url, headers={"Authorization": f"Bearer {token.get_secret_value()}"})
    except NETWORK_ERRORS as err:
        return [Check("Slack", False, f"can't reach {settings.slack_api_url} ({_why(err)})")]
    if not body.get("ok"):
        return [Check("Slack", False, f"auth.test failed ({body.get('error', 'no answer')}): check SLACK_BOT_TOKEN")]
    granted = {scope.strip() for scope in headers.get("x-oauth-scopes", "").split(",")}
    missing = [scope for scope in SLACK_SCOPES if scope not in granted]
    if missing:
        return [Check("Slack", False, f"the app lacks scopes {', '.join(missing)}: add them and reinstall the app")]
    return [Check("Slack", True, f"signed in as {body.get('user')} on {body.get('team')}; scopes ok")]


async def check_telegram(settings: Settings) -> list[Check]:
    if not settings.telegram_bot_token:
        return [Check("Telegram", True, "off (no credentials)", info=True)]
    base = settings.telegram_api_url + settings.telegram_bot_token.get_secret_value()
    try:
        _, me, _ = await fetch("GET", f"{base}/getMe")
        hook = (await fetch("GET", f"{base}/getWebhookInfo"))[1] if me.get("ok") else {}
    except NETWORK_ERRORS as err:
        return [Check("Telegram", False, f"can't reach the Bot API ({_why(err)})")]
    if not me.get("ok"):
        return [
            Check("Telegram", False, f"getMe failed ({me.get('description', 'no answer')}): check TELEGRAM_BOT_TOKEN")
        ]
    url = str(hook.get("result", {}).get("url", ""))
    name = f"@{me['result'].get('username')} answers"
    problem = _telegram_webhook_problem(settings, url)
    if problem:
        return [Check("Telegram", False, f"{name}, but {problem}")]
    if settings.telegram_mode == "polling":
        stray = f"; the webhook {url} is removed when polling starts" if url else ""
        return [Check("Telegram", True, f"{name}; polling{stray}")]
    return [Check("Telegram", True, f"{name}; webhook {url or '(registered at start)'}")]


def _telegram_webhook_problem(settings: Settings, url: str) -> str:
    if settings.telegram_mode != "webhook":
        return ""
    if not url and not settings.public_url:
        return (
            "no webhook is set: set DEPUTY_PUBLIC_URL=https://your.host so Deputy registers "
            "https://your.host/telegram/webhook at start (see docs/telegram.md)"
        )
    if url and not url.endswith("/telegram/webhook"):
        return f"the webhook points at {url}, not at Deputy's /telegram/webhook"
    return ""


async def check_model(settings: Settings) -> list[Check]:
    if settings.llm_model in ("offline", "offline/deputy"):
        return [Check("Model", True, f"{settings.llm_model} (built in, deterministic, free)")]
    pricing = _pricing(settings.llm_model)
    if settings.llm_api_base:
        return [pricing, await _reachable(settings.llm_api_base)]
    key = PROVIDER_KEYS.get(settings.llm_model.split("/", 1)[0])
    if key and not os.environ.get(key):
        return [pricing, Check("Model", False, f"{settings.llm_model} needs {key} in the environment or .env")]
    return [pricing, Check("Model", True, f"{settings.llm_model} configured (not called: a call costs money)")]


async def _reachable(api_base: str) -> Check:
    try:
        status, _, _ = await fetch("GET", api_base.rstrip("/") + "/models")
    except NETWORK_ERRORS as err:
        return Check("Model", False, f"can't reach DEPUTY_LLM_API_BASE {api_base} ({_why(err)})")
    if status >= 400:
        return Check("Model", False, f"{api_base}/models answered {status}: check the URL and the key")
    return Check("Model", True, f"{api_base} answers")


def _pricing(model: str) -> Check:
    """litellm's price list (the local copy: LITELLM_LOCAL_MODEL_COST_MAP is set before import)."""
    import litellm

    try:
        litellm.get_model_info(model)
    except Exception:
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
        return [Check("Memory", False, f"Weaviate at {settings.weaviate_url} is unreachable ({_why(err)})")]
    ready = status == 200
    return [
        Check(
            "Memory", ready, f"Weaviate at {settings.weaviate_url} is {'ready' if ready else f'not ready ({status})'}"
        )
    ]
