"""Deputy's webhook signature, the same both ways: `X-Deputy-Timestamp: <unix seconds>` and
`X-Deputy-Signature: sha256=<hex HMAC-SHA256 of "<timestamp>.<body>">` (v1). An inbound delivery may instead
carry `X-Deputy-Signature: v2=<hex HMAC-SHA256 of "v2\n<timestamp>\n<Idempotency-Key>\n<body>">`: the
version is both in the header and in the signed bytes, and a newline (which no header value holds) ends the
key, so no delivery signed one way verifies the other way or with its body re-cut into another key."""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Mapping

TIMESTAMP = "X-Deputy-Timestamp"
SIGNATURE = "X-Deputy-Signature"
MAX_AGE_S = 300


def signature(secret: str, timestamp: str, body: bytes) -> str:
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return f"sha256={mac.hexdigest()}"


def signature_v2(secret: str, timestamp: str, key: str, body: bytes) -> str:
    signed = b"\n".join([b"v2", timestamp.encode(), key.encode(), body])
    return f"v2={hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()}"


def headers(secret: str | None, body: bytes, now: float | None = None) -> dict[str, str]:
    timestamp = str(int(now if now is not None else time.time()))
    signed = {TIMESTAMP: timestamp}
    if secret:
        signed[SIGNATURE] = signature(secret, timestamp, body)
    return signed


def verify(secret: str, timestamp: str | None, given: str | None, body: bytes, now: float | None = None) -> bool:
    """Constant-time check; a timestamp older (or newer) than five minutes fails, so captures can't be replayed."""
    if not given or not _fresh(timestamp, now):
        return False
    return hmac.compare_digest(signature(secret, str(timestamp), body), given)


def verify_delivery(
    secret: str, headers: Mapping[str, str], body: bytes, key: str = "", now: float | None = None
) -> bool:
    """An inbound delivery's signature. `v2=` covers the version, the timestamp, the `Idempotency-Key` and the
    body, each in its own field. `sha256=` (v1) covers "<timestamp>.<body>", or — the older keyed form, kept
    for senders that use it — "<timestamp>.<key>.<body>"; those two can be re-cut into each other at a `.`, so
    the hooks source also dedupes on the signature itself: a re-cut capture carries the same one."""
    timestamp, given = headers.get(TIMESTAMP), headers.get(SIGNATURE)
    if given and given.startswith("v2="):
        fresh = _fresh(timestamp, now)
        return fresh and hmac.compare_digest(signature_v2(secret, str(timestamp), key, body), given)
    if key and verify(secret, timestamp, given, key.encode() + b"." + body, now):
        return True
    return verify(secret, timestamp, given, body, now)


def _fresh(timestamp: str | None, now: float | None) -> bool:
    if not timestamp or not timestamp.isdigit():
        return False
    return abs((now if now is not None else time.time()) - int(timestamp)) <= MAX_AGE_S
