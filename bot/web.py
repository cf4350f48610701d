"""The aiohttp app: health, readiness and metrics now; Slack, Telegram and inbound hooks mount here too."""

from __future__ import annotations

from collections.abc import Mapping

from aiohttp import web
from redis.asyncio import Redis
from redis.exceptions import RedisError

from bot import hooks, metrics
from bot.ingress import Ingress
from bot.outboxes import real
from config.wiring import Runtime
from memory.faults import describe, probe
from memory.inbox import RedisInbox
from memory.liveness import alive_workers

REDIS: web.AppKey[Redis] = web.AppKey("redis", Redis)
BUDGET: web.AppKey[tuple[float, str]] = web.AppKey("budget_and_model", tuple)
MINUTES: web.AppKey[Mapping[str, float] | None] = web.AppKey("minutes_saved")


async def healthz(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


async def readyz(request: web.Request) -> web.Response:
    """Ready means a request sent now will be stored and worked on: Redis takes a write (an out-of-memory or
    read-only Redis still answers PING) and a worker is alive."""
    redis = request.app[REDIS]
    try:
        fault = await probe(redis)
        workers = 0 if fault else await alive_workers(redis)
    except (RedisError, OSError) as err:
        fault = describe(err)
    if fault:
        return web.json_response({"status": "not ready", "reason": fault}, status=503)
    if workers == 0:
        reason = "no worker is alive (start one with 'deputy worker')"
        return web.json_response({"status": "not ready", "reason": reason}, status=503)
    return web.json_response({"status": "ready", "workers": workers})


async def metrics_view(request: web.Request) -> web.Response:
    redis = request.app[REDIS]
    budget, model = request.app[BUDGET]
    body = await metrics.render(redis, await alive_workers(redis), budget, model, request.app[MINUTES])
    return web.Response(
        body=body, content_type="text/plain", charset="utf-8", headers={"X-Content-Type-Options": "nosniff"}
    )


def make_app(
    redis: Redis, *, budget_usd: float = 5.0, model: str = "offline", minutes_saved: Mapping[str, float] | None = None
) -> web.Application:
    app = web.Application(client_max_size=1024 * 1024, middlewares=[metrics.measure])
    app[REDIS], app[BUDGET], app[MINUTES] = redis, (budget_usd, model), minutes_saved
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/metrics", metrics_view)
    return app


def deputy_app(runtime: Runtime) -> web.Application:
    """The whole web surface of a Deputy process, wired to its runtime."""
    settings = runtime.settings
    minutes = runtime.coordinator.views.minutes_saved
    app = make_app(runtime.redis, budget_usd=settings.daily_budget_usd, model=settings.llm_model, minutes_saved=minutes)
    ingress = Ingress(RedisInbox(runtime.redis))
    app.cleanup_ctx.append(ingress.lifespan)  # first in, last out: it drains after the channels stop taking more
    hooks.mount(app, runtime.coordinator, settings.hook_secrets, settings.report_chat, ingress)
    if settings.telegram_bot_token:
        from bot.telegram import channel as telegram
        from bot.telegram.outbound import TelegramOutbox

        outbox = real(runtime.outboxes, "telegram")
        assert isinstance(outbox, TelegramOutbox)
        telegram.mount(app, telegram.TelegramChannel(settings, runtime.coordinator, outbox, ingress))
    if settings.slack_bot_token and (settings.slack_signing_secret or settings.slack_app_token):
        from bot.slack import channel as slack
        from bot.slack.outbound import SlackOutbox

        slack_outbox = real(runtime.outboxes, "slack")
        assert isinstance(slack_outbox, SlackOutbox)
        slack.mount(app, slack.SlackChannel(settings, runtime.coordinator, slack_outbox, ingress))
    return app
