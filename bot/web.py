"""The aiohttp app: health, readiness and metrics, and every configured channel and source (bot/channels.py,
bot/sources/) mounted on it."""

from __future__ import annotations

from collections.abc import Mapping

from aiohttp import web
from redis.asyncio import Redis
from redis.exceptions import RedisError

from bot import channels, metrics, sources
from bot.channels import Mount
from bot.ingress import Ingress
from bot.wiring import Runtime
from config.settings import Settings
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


def labels(settings: Settings | None = None) -> dict[str, str]:
    """URL prefix → `/metrics` label, for every installed channel and source (Deputy's own without settings)."""
    chosen = channels.installed(settings) if settings else channels.builtin()
    found = {path: channel.platform for channel in chosen for path in channel.paths}
    return found | {path: source.name for source in sources.installed(settings) for path in source.paths}


def make_app(
    redis: Redis,
    *,
    budget_usd: float = 5.0,
    model: str = "offline",
    minutes_saved: Mapping[str, float] | None = None,
    settings: Settings | None = None,
) -> web.Application:
    app = web.Application(client_max_size=1024 * 1024, middlewares=[metrics.measure])
    app[REDIS], app[BUDGET], app[MINUTES] = redis, (budget_usd, model), minutes_saved
    app[metrics.LABELS] = labels(settings)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/metrics", metrics_view)
    return app


def deputy_app(runtime: Runtime) -> web.Application:
    """The whole web surface of a Deputy process, wired to its runtime."""
    settings = runtime.settings
    minutes = runtime.coordinator.views.minutes_saved
    app = make_app(
        runtime.redis,
        budget_usd=settings.daily_budget_usd,
        model=settings.llm_model,
        minutes_saved=minutes,
        settings=settings,
    )
    ingress = Ingress(RedisInbox(runtime.redis))
    app.cleanup_ctx.append(ingress.lifespan)  # first in, last out: it drains after the channels stop taking more
    at = Mount(runtime.coordinator, ingress, runtime.outboxes, settings.report_chat, runtime.redis)
    for source, values in sources.configured(settings):
        source.start(app, values, at)
    for channel, values in channels.configured(settings):
        channel.mount(app, values, at)
    return app
