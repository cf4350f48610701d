"""The first source plug-in, `POST /hooks/<name>`: signed inbound webhooks start tasks. The delivery is stored
(with its dedupe and its task's id, in one write: `bot.sources.take`) before the 202; the task starts behind
it. A replay of one delivery — the same body, or the same `Idempotency-Key` — starts no second task for two
days, whatever key it carries."""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from redis.exceptions import RedisError

from bot.channels import Mount
from bot.ingress import Ingress
from bot.payloads import Malformed, text_body
from bot.sources import as_task, take
from connectors import signing
from memory import keys
from memory.faults import describe

log = logging.getLogger("deputy.hooks")
MAX_BODY = 512 * 1024
MAX_KEY = 200
SECRETS: web.AppKey[dict[str, str]] = web.AppKey("hook_secrets", dict)
INGRESS: web.AppKey[Ingress] = web.AppKey("hook_ingress", Ingress)


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status)


async def receive(request: web.Request) -> web.Response:
    name = request.match_info["name"]
    secret = request.app[SECRETS].get(name)
    if secret is None:
        return _error(404, f"no inbound webhook named {name!r}")
    if (request.content_length or 0) > MAX_BODY:
        return _error(413, f"body over {MAX_BODY} bytes")
    body = await request.content.read(MAX_BODY + 1)
    if len(body) > MAX_BODY:
        return _error(413, f"body over {MAX_BODY} bytes")
    key = request.headers.get("Idempotency-Key", "")
    if not signing.verify_delivery(secret, request.headers, body, key):
        return _error(401, "bad or missing X-Deputy-Signature / X-Deputy-Timestamp")
    try:
        text = text_body(body)
    except Malformed as err:
        return _error(400, str(err))
    if len(key) > MAX_KEY:
        return _error(400, f"Idempotency-Key over {MAX_KEY} characters")
    mac = request.headers.get(signing.SIGNATURE, "")
    return await _store(request.app[INGRESS], name, text, hashlib.sha256(body).hexdigest(), key, mac)


async def _store(ingress: Ingress, name: str, text: str, digest: str, key: str, mac: str) -> web.Response:
    """One write: the dedupe claims (body, key, signature), the task's id reserved, the delivery stored. The
    signature's claim catches a capture re-cut into another body and key (signing.verify_delivery)."""
    dedupe = [f"{keys.PREFIX}:hook:{name}:body:{digest}", f"{keys.PREFIX}:hook:{name}:mac:{mac[:80]}"]
    dedupe += [f"{keys.PREFIX}:hook:{name}:key:{key}"] if key else []
    item = {"name": name, "body": text, "delivery": digest}
    try:
        taken = await take(ingress, "hook", item, dedupe=dedupe)
    except RedisError as err:
        log.warning("hook %s could not be stored: %s", name, err)
        return _error(503, f"can't store the delivery now ({describe(err)}); send it again later")
    if taken.task:
        return web.json_response({"status": "accepted", "task": taken.task}, status=202)
    if taken.duplicate:
        return web.json_response({"status": "duplicate", "idempotency_key": key or digest}, status=200)
    return _error(503, "could not reserve a task id; send it again")


@dataclass(frozen=True)
class Values:
    hook_secrets: dict[str, str]
    """DEPUTY_HOOKS: name → secret."""


class Hooks:
    """Always mounted: an unknown name is a 404 that says so."""

    name, paths, values = "hooks", ("/hooks/",), Values

    def configured(self, values: Any) -> bool:
        return True

    def start(self, app: web.Application, values: Any, at: Mount) -> None:
        app[SECRETS], app[INGRESS] = values.hook_secrets, at.ingress
        at.ingress.handle("hook", as_task(at.coordinator, at.report_to))
        app.router.add_post("/hooks/{name}", receive)


SOURCE = Hooks()
