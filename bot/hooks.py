"""`POST /hooks/<name>`: signed inbound webhooks start tasks. The body is untrusted input for a playbook;
a duplicate delivery (same `Idempotency-Key`, or the same body) makes no second task."""

from __future__ import annotations

import hashlib

from aiohttp import web

from connectors import signing
from orchestrator.coordinator import Coordinator
from orchestrator.model import ChatRef

MAX_BODY = 512 * 1024
COORDINATOR: web.AppKey[Coordinator] = web.AppKey("coordinator", Coordinator)
SECRETS: web.AppKey[dict[str, str]] = web.AppKey("hook_secrets", dict)
REPORT_TO: web.AppKey[ChatRef] = web.AppKey("report_to", ChatRef)


async def receive(request: web.Request) -> web.Response:
    name = request.match_info["name"]
    secret = request.app[SECRETS].get(name)
    if secret is None:
        return web.json_response({"error": f"no inbound webhook named {name!r}"}, status=404)
    if (request.content_length or 0) > MAX_BODY:
        return web.json_response({"error": f"body over {MAX_BODY} bytes"}, status=413)
    body = await request.content.read(MAX_BODY + 1)
    if len(body) > MAX_BODY:
        return web.json_response({"error": f"body over {MAX_BODY} bytes"}, status=413)
    headers = request.headers
    if not signing.verify(secret, headers.get(signing.TIMESTAMP), headers.get(signing.SIGNATURE), body):
        return web.json_response({"error": "bad or missing X-Deputy-Signature / X-Deputy-Timestamp"}, status=401)
    key = headers.get("Idempotency-Key") or hashlib.sha256(body).hexdigest()
    text = body.decode("utf-8", errors="replace")
    task_id = await request.app[COORDINATOR].receive_hook(
        name=name, body=text, key=key[:200], chat=request.app[REPORT_TO]
    )
    if task_id is None:
        return web.json_response({"status": "duplicate", "idempotency_key": key}, status=200)
    return web.json_response({"status": "accepted", "task": task_id}, status=202)


def mount(app: web.Application, coordinator: Coordinator, secrets: dict[str, str], report_to: ChatRef) -> None:
    app[COORDINATOR], app[SECRETS], app[REPORT_TO] = coordinator, secrets, report_to
    app.router.add_post("/hooks/{name}", receive)
