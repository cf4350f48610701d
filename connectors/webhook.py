"""`webhook.post`: JSON to a named endpoint from DEPUTY_WEBHOOKS, signed, with an `Idempotency-Key` that
stays the same across retries — so the receiver can dedupe, and Deputy may safely re-send (`resend_safe`).
Only named endpoints: a URL in a message never becomes a target."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import aiohttp
from redis.asyncio import Redis

from connectors import signing
from connectors.deadlines import deadline_s
from orchestrator.errors import BadRequest, PermanentConnectorError, TransientConnectorError
from orchestrator.kinds import Preview, Traits
from orchestrator.ports import HandOver, no_hand_over
from orchestrator.text import masked

MAX_PAYLOAD = 64_000
TIMEOUT_S = 10.0
"""One post's deadline (or half of DEPUTY_JOB_TIMEOUT_S, when that is shorter)."""


TRAITS = Traits("webhook.post", outward=True, minutes_saved=3.0, noun="post", done="posted")


@dataclass(frozen=True)
class Values:
    """DEPUTY_WEBHOOKS and DEPUTY_WEBHOOK_SECRET, checked at start by config/settings.py (which names them)."""

    webhooks: str = ""
    webhook_secret: str | None = None
    job_timeout_s: int = 600


def build(values: Values, redis: Redis) -> WebhookConnector:
    timeout_s = deadline_s(values.job_timeout_s, TIMEOUT_S)
    return WebhookConnector(parse_endpoints(values.webhooks), values.webhook_secret, timeout_s=timeout_s)


def parse_endpoints(raw: str) -> dict[str, str]:
    endpoints: dict[str, str] = {}
    for item in (part.strip() for part in raw.split(",") if part.strip()):
        name, _, url = item.partition("=")
        if not name.strip() or urlsplit(url.strip()).scheme not in ("http", "https"):
            raise ValueError(f"{name.strip()}={_host(url.strip())!r} is not name=https://…")
        endpoints[name.strip()] = url.strip()
    return endpoints


class WebhookConnector:
    kind, traits = TRAITS.kind, TRAITS
    resend_safe = True

    def __init__(self, endpoints: dict[str, str], secret: str | None, *, timeout_s: float = TIMEOUT_S) -> None:
        self.endpoints, self.secret, self.timeout_s = endpoints, secret, timeout_s

    def validate(self, fields: dict[str, Any]) -> dict[str, Any]:
        name = str(fields.get("name", "")).strip()
        if name not in self.endpoints:
            known = ", ".join(sorted(self.endpoints)) or "none (set DEPUTY_WEBHOOKS=name=https://…)"
            raise BadRequest(f"There is no webhook named '{name}'. Configured: {known}.")
        payload = fields.get("payload", {})
        if not isinstance(payload, dict):
            raise BadRequest("A webhook payload must be a JSON object.")
        if len(json.dumps(payload)) > MAX_PAYLOAD:
            raise BadRequest(f"The webhook payload is over {MAX_PAYLOAD:,} bytes.")
        return {"name": name, "payload": payload}

    def preview(self, fields: dict[str, Any]) -> Preview:
        host = _host(self.endpoints[fields["name"]])
        text = str(fields["payload"].get("text", json.dumps(fields["payload"])))[:80]
        summary = f"Post “{text}” to webhook {fields['name']} ({host})"
        return Preview(summary, target=fields["name"], body=str(fields["payload"].get("text", "")))

    def unavailable(self) -> str:
        return ""

    async def apply(self, fields: dict[str, Any], idempotency_key: str, handing_over: HandOver = no_hand_over) -> str:
        """Resend-safe (the receiver dedupes on `Idempotency-Key`), so there is no hand-over to report."""
        body = json.dumps(fields["payload"], separators=(",", ":"), sort_keys=True).encode()
        headers = {
            "Content-Type": "application/json",
            "Idempotency-Key": idempotency_key,
            **signing.headers(self.secret, body),
        }
        name, url = fields["name"], self.endpoints[fields["name"]]
        timeout = aiohttp.ClientTimeout(total=self.timeout_s)
        try:
            async with (
                aiohttp.ClientSession(timeout=timeout) as session,
                session.post(url, data=body, headers=headers) as response,
            ):
                return _outcome(name, response.status, await response.text())
        except (TimeoutError, aiohttp.ClientError) as err:
            raise TransientConnectorError(_unanswered(name, err, self.timeout_s)) from err


def _outcome(name: str, status: int, text: str) -> str:
    """2xx applied; 4xx the receiver refused (permanent); anything else may pass (retried, same key)."""
    first_line = (text.strip().splitlines() or [""])[0][:200]
    if 200 <= status < 300:
        return f"Posted to webhook {name} ({status})"
    if 400 <= status < 500:
        raise PermanentConnectorError(f"webhook {name} refused it with {status}: {first_line}".rstrip(": "))
    raise TransientConnectorError(f"webhook {name} answered {status}: {first_line}".rstrip(": "))


def _host(url: str) -> str:
    """Where a post goes, as cards and the ledger show it: host and port, never the credentials before the @."""
    return urlsplit(url).netloc.rpartition("@")[2]


def _unanswered(name: str, err: Exception, timeout_s: float) -> str:
    """In words: a timeout says how long Deputy waited; a refused connection says so."""
    if isinstance(err, TimeoutError):
        return f"webhook {name} did not answer within {timeout_s:.0f} s"
    return f"webhook {name} could not be reached ({masked(str(err)) or 'no reason given'})"
