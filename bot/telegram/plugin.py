"""Telegram as a channel plug-in: its settings, outbox, polling loop or `POST /telegram/webhook`, and its doctor
check. Cheap to import: python-telegram-bot loads on first use."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from aiohttp import web
from redis.asyncio import Redis

from bot.channels import Mount
from bot.checks import Check
from bot.doctor_remote import NETWORK_ERRORS, fetch, why
from orchestrator.ports import ChatOutbox


@dataclass(frozen=True)
class Values:
    telegram_bot_token: str | None
    telegram_api_url: str
    telegram_mode: str
    telegram_webhook_secret: str | None
    public_url: str | None


class Telegram:
    platform, paths, values, chat = "telegram", ("/telegram/",), Values, True

    def configured(self, values: Any) -> bool:
        return bool(values.telegram_bot_token)

    def outbox(self, values: Any, redis: Redis) -> ChatOutbox:
        return _outbox(values, redis)

    def preload(self, values: Any) -> None:
        import bot.telegram.outbound  # noqa: F401

    def mount(self, app: web.Application, values: Any, at: Mount) -> None:
        from bot.outboxes import real
        from bot.telegram import channel
        from bot.telegram.outbound import TelegramOutbox

        outbox = real(at.outboxes, self.platform)
        assert isinstance(outbox, TelegramOutbox)
        mode = channel.Mode(values.telegram_mode, values.public_url, values.telegram_webhook_secret or "")
        channel.mount(app, channel.TelegramChannel(mode, at.coordinator, outbox, at.ingress))

    async def doctor(self, values: Any) -> list[Check]:
        return await check(values)


def _outbox(values: Values, redis: Redis) -> ChatOutbox:
    from bot.telegram.outbound import TelegramOutbox

    assert values.telegram_bot_token is not None
    return TelegramOutbox(token=values.telegram_bot_token, base_url=values.telegram_api_url, redis=redis)


async def check(values: Values) -> list[Check]:
    if not values.telegram_bot_token:
        return [Check("Telegram", True, "off (no credentials)", info=True)]
    base = values.telegram_api_url + values.telegram_bot_token
    try:
        _, me, _ = await fetch("GET", f"{base}/getMe")
        hook = (await fetch("GET", f"{base}/getWebhookInfo"))[1] if me.get("ok") else {}
    except NETWORK_ERRORS as err:
        return [Check("Telegram", False, f"can't reach the Bot API ({why(err)})")]
    if not me.get("ok"):
        return [
            Check("Telegram", False, f"getMe failed ({me.get('description', 'no answer')}): check TELEGRAM_BOT_TOKEN")
        ]
    url = str(hook.get("result", {}).get("url", ""))
    name = f"@{me['result'].get('username')} answers"
    problem = _webhook_problem(values, url)
    if problem:
        return [Check("Telegram", False, f"{name}, but {problem}")]
    if values.telegram_mode == "polling":
        stray = f"; the webhook {url} is removed when polling starts" if url else ""
        return [Check("Telegram", True, f"{name}; polling{stray}")]
    return [Check("Telegram", True, f"{name}; webhook {url or '(registered at start)'}")]


def _webhook_problem(values: Values, url: str) -> str:
    if values.telegram_mode != "webhook":
        return ""
    if not url and not values.public_url:
        return (
            "no webhook is set: set DEPUTY_PUBLIC_URL=https://your.host so Deputy registers "
            "https://your.host/telegram/webhook at start (see docs/telegram.md)"
        )
    if url and not url.endswith("/telegram/webhook"):
        return f"the webhook points at {url}, not at Deputy's /telegram/webhook"
    return ""


CHANNEL = Telegram()
