"""`POST /hooks/<name>`: signed inbound webhooks start tasks. The delivery is stored (with its dedupe and its
task's id, in one write) before the 202; the task starts behind it. A replay of one delivery — the same
body, or the same `Idempotency-Key` — starts no second task for two days, whatever key it carries."""

from __future__ import annotations

import hashlib
import logging

from aiohttp import web
from redis.exceptions import RedisError

from bot.ingress import Handler, Ingress
from bot.payloads import Malformed, text_body
from connectors import signing
from memory import keys
from memory.faults import describe
from memory.inbox import Claim, Entry
from memory.store import new_candidate
from orchestrator.coordinator import Coordinator
from orchestrator.model import ChatRef

log = logging.getLogger("deputy.hooks")
MAX_BODY = 512 * 1024
MAX_KEY = 200
DEDUPE_S = 2 * 24 * 3600
COORDINATOR: web.AppKey[Coordinator] = web.AppKey("coordinator", Coordinator)
SECRETS: web.AppKey[dict[str, str]] = web.AppKey("hook_secrets", dict)
REPORT_TO: web.AppKey[ChatRef] = web.AppKey("report_to", ChatRef)
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
    return await _store(request.app[INGRESS], name, text, hashlib.sha256(body).hexdigest(), key)


async def _store(ingress: Ingress, name: str, text: str, digest: str, key: str) -> web.Response:
    """One write: the dedupe claims (body, key), the task's id reserved, the delivery stored."""
    for _ in range(5):
        task_id = new_candidate("t")
        claims = [Claim(f"{keys.PREFIX}:hook:{name}:body:{digest}", ttl=DEDUPE_S)]
        claims += [Claim(f"{keys.PREFIX}:hook:{name}:key:{key}", ttl=DEDUPE_S)] if key else []
        claims += [
            Claim(keys.id_for(f"hook:{name}:{digest}"), task_id, DEDUPE_S),
            Claim(keys.issued_id(task_id), "1"),
        ]
        try:
            stored = await ingress.accept("hook", {"name": name, "body": text, "delivery": digest}, claims)
        except RedisError as err:
            log.warning("hook %s could not be stored: %s", name, err)
            return _error(503, f"can't store the delivery now ({describe(err)}); send it again later")
        if stored.entry_id:
            return web.json_response({"status": "accepted", "task": task_id}, status=202)
        if stored.taken != keys.issued_id(task_id):  # else the random id was issued before: draw another
            return web.json_response({"status": "duplicate", "idempotency_key": key or digest}, status=200)
    return _error(503, "could not reserve a task id; send it again")


def handler(coordinator: Coordinator, report_to: ChatRef) -> Handler:
    async def start(entry: Entry) -> None:
        fields = entry.fields
        await coordinator.receive_hook(
            name=fields["name"], body=fields["body"], delivery=fields["delivery"], chat=report_to
        )

    return start


def mount(
    app: web.Application, coordinator: Coordinator, secrets: dict[str, str], report_to: ChatRef, ingress: Ingress
) -> None:
    app[COORDINATOR], app[SECRETS], app[REPORT_TO], app[INGRESS] = coordinator, secrets, report_to, ingress
    ingress.handle("hook", handler(coordinator, report_to))
    app.router.add_post("/hooks/{name}", receive)
