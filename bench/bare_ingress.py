"""The baseline for `bench/ingress.py`: a bare aiohttp handler that does the platform's check (the same secret
comparison or HMAC as Deputy) and the same one durable write (an XADD to the same Redis, fsynced by its
`appendfsync always`), then answers 200. Run: `python -m bench.bare_ingress KIND PORT SECRET REDIS_URL`."""

from __future__ import annotations

import hashlib
import hmac
import sys
import time

from aiohttp import web
from redis.asyncio import Redis

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"


def telegram(secret: str, redis: Redis) -> web.Application:
    async def handler(request: web.Request) -> web.Response:
        body = await request.read()
        if not hmac.compare_digest(request.headers.get(SECRET_HEADER, "").encode(), secret.encode()):
            return web.Response(status=403)
        await redis.xadd("bare:inbox", {"body": body})
        return web.json_response({"ok": True})

    app = web.Application()
    app.router.add_post("/telegram/webhook", handler)
    return app


def slack(secret: str, redis: Redis) -> web.Application:
    async def handler(request: web.Request) -> web.Response:
        body = await request.read()
        stamp = request.headers.get("X-Slack-Request-Timestamp", "0")
        base = f"v0:{stamp}:".encode() + body
        expected = "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()
        fresh = abs(time.time() - int(stamp)) <= 300
        if not fresh or not hmac.compare_digest(request.headers.get("X-Slack-Signature", ""), expected):
            return web.Response(status=401)
        await redis.xadd("bare:inbox", {"body": body})
        return web.Response(status=200)

    app = web.Application()
    app.router.add_post("/slack/events", handler)
    return app


if __name__ == "__main__":
    kind, port, secret, url = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
    redis = Redis.from_url(url, protocol=2, driver_info=None)
    web.run_app({"telegram": telegram, "slack": slack}[kind](secret, redis), host="127.0.0.1", port=port, print=None)
