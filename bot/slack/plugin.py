"""Slack as a channel plug-in: its settings, outbox, routes (`POST /slack/events`) or Socket Mode connection,
and its doctor check. Cheap to import: slack-bolt and slack_sdk load on first use (about a second)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from aiohttp import web
from redis.asyncio import Redis

from bot.channels import Mount
from bot.checks import Check
from bot.doctor_remote import NETWORK_ERRORS, fetch, why
from orchestrator.ports import ChatOutbox

SLACK_SCOPES = ("chat:write", "im:history", "app_mentions:read", "commands", "users:read")


@dataclass(frozen=True)
class Values:
    slack_bot_token: str | None
    slack_signing_secret: str | None
    slack_app_token: str | None
    slack_api_url: str


class Slack:
    platform, paths, values, chat = "slack", ("/slack/",), Values, True

    def configured(self, values: Any) -> bool:
        return bool(values.slack_bot_token)

    def outbox(self, values: Any, redis: Redis) -> ChatOutbox:
        return _outbox(values, redis)

    def preload(self, values: Any) -> None:
        import bot.slack.outbound  # noqa: F401

    def mount(self, app: web.Application, values: Any, at: Mount) -> None:
        """HTTP with the signing secret, Socket Mode with the app token; neither: the outbox only."""
        if not (values.slack_signing_secret or values.slack_app_token):
            return
        from bot.outboxes import real
        from bot.slack import channel
        from bot.slack.outbound import SlackOutbox

        outbox = real(at.outboxes, self.platform)
        assert isinstance(outbox, SlackOutbox)
        secret, app_token = values.slack_signing_secret or "", values.slack_app_token or ""
        made = channel.SlackChannel(
            secret=secret, app_token=app_token, coordinator=at.coordinator, outbox=outbox, ingress=at.ingress
        )
        channel.mount(app, made)

    async def doctor(self, values: Any) -> list[Check]:
        return await check(values)


def _outbox(values: Values, redis: Redis) -> ChatOutbox:
    from bot.slack.outbound import SlackOutbox, make_client

    assert values.slack_bot_token is not None
    return SlackOutbox(client=make_client(values.slack_bot_token, values.slack_api_url), redis=redis)


async def check(values: Values) -> list[Check]:
    token, secret, app = values.slack_bot_token, values.slack_signing_secret, values.slack_app_token
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
    url = values.slack_api_url.rstrip("/") + "/auth.test"
    try:
        _, body, headers = await fetch("POST", url, headers={"Authorization": f"Bearer {token}"})
    except NETWORK_ERRORS as err:
        return [Check("Slack", False, f"can't reach {values.slack_api_url} ({why(err)})")]
    if not body.get("ok"):
        return [Check("Slack", False, f"auth.test failed ({body.get('error', 'no answer')}): check SLACK_BOT_TOKEN")]
    granted = {scope.strip() for scope in headers.get("x-oauth-scopes", "").split(",")}
    missing = [scope for scope in SLACK_SCOPES if scope not in granted]
    if missing:
        return [Check("Slack", False, f"the app lacks scopes {', '.join(missing)}: add them and reinstall the app")]
    return [Check("Slack", True, f"signed in as {body.get('user')} on {body.get('team')}; scopes ok")]


CHANNEL = Slack()
