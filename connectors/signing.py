"""Deputy's webhook signature, the same both ways: `X-Deputy-Timestamp: <unix seconds>` and
`X-Deputy-Signature: sha256=<hex HMAC-SHA256 of "<timestamp>.<body>">`."""

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


def headers(secret: str | None, body: bytes, now: float | None = None) -> dict[str, str]:
    timestamp = str(int(now if now is not None else time.time()))
    signed = {TIMESTAMP: timestamp}
    if secret:
        signed[SIGNATURE] = signature(secret, timestamp, body)
    return signed


def verify(secret: str, timestamp: str | None, given: str | None, body: bytes, now: float | None = None) -> bool:
    """Constant-time check; a timestamp older (or newer) than five minutes fails, so captures can't be replayed."""
    if not timestamp or not given or not timestamp.isdigit():
        return False
    if abs((now if now is not None else time.time()) - int(timestamp)) > MAX_AGE_S:
        return False
    return hmac.compare_digest(signature(secret, timestamp, body), given)


def verify_delivery(
    secret: str, headers: Mapping[str, str], body: bytes, key: str = "", now: float | None = None
) -> bool:
    """An inbound delivery's signature: over "<timestamp>.<key>.<body>" when it carries an `Idempotency-Key`
    (the key can't be swapped), or over "<timestamp>.<body>" as every sender signs it. Either way a replay
    starts nothing new: deliveries are deduped on their body and their key."""
    timestamp, given = headers.get(TIMESTAMP), headers.get(SIGNATURE)
    if key and verify(secret, timestamp, given, key.encode() + b"." + body, now):
        return True
    return verify(secret, timestamp, given, body, now)
