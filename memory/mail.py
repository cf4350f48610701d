"""What the inbox source keeps in Redis: per folder, the date of its first connection and a cursor per
UIDVALIDITY (the last UID taken); the dedupe claims of each email, by (folder, UIDVALIDITY, UID) and by its
Message-ID, kept for good; and each email's triage, written once together with its `EmailReceived` ledger
event (in the same write as its claims and its inbox entry). The claims make "once" hold across restarts and
processes; the cursor only saves work."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from redis.asyncio import Redis

from memory import codec, keys
from memory.inbox import Kept
from memory.store import RedisStore
from orchestrator.events import EmailReceived


def mail(part: str) -> str:
    return f"{keys.PREFIX}:mail:{part}"


def uid_claim(folder: str, validity: int, uid: int) -> str:
    return mail(f"uid:{folder}:{validity}:{uid}")


def id_claim(message_id: str, raw_head: bytes) -> str:
    """By Message-ID, or, for mail without one, by a digest of its first bytes (the same message again)."""
    basis = message_id.strip().lower().encode() if message_id.strip() else b"raw:" + raw_head
    return mail(f"mid:{hashlib.sha256(basis).hexdigest()[:32]}")


class MailStore:
    def __init__(self, redis: Redis) -> None:
        self.redis = redis
        self.store = RedisStore(redis)

    async def first_since(self, folder: str, since: str) -> str:
        """The `since` day of the folder's first connection, kept: a later UIDVALIDITY change re-syncs from it."""
        await self.redis.set(mail(f"since:{folder}"), since, nx=True)
        return codec.text(await self.redis.get(mail(f"since:{folder}"))) or since

    async def cursor(self, folder: str, validity: int) -> int | None:
        found = await self.redis.hget(mail(f"cursor:{folder}"), str(validity))
        return int(found) if found is not None else None

    async def advance(self, folder: str, validity: int, uid: int) -> None:
        """Never backwards (another process may be ahead); a lost race only means a UID is looked at twice."""
        current = await self.cursor(folder, validity)
        if current is None or uid > current:
            await self.redis.hset(mail(f"cursor:{folder}"), str(validity), uid)

    async def untaken(self, folder: str, validity: int, uids: Sequence[int]) -> list[int]:
        """Those of these UIDs no process has taken yet, asked in one round trip."""
        async with self.redis.pipeline(transaction=False) as pipe:
            for uid in uids:
                pipe.exists(uid_claim(folder, validity, uid))
            found = await pipe.execute()
        return [uid for uid, there in zip(uids, found, strict=True) if not there]

    async def record(self, delivery: str, item: dict[str, Any], *, task_id: str, at: datetime) -> bool:
        """The email's triage and its `EmailReceived` event, in one step, once: False if already there (the
        stored item handled again after a crash). A new email's is written with its take instead (`kept`)."""
        found = kept(delivery, item, task_id=task_id, at=at)
        return await self.store.append_once(found.guard, found.value, found.events)

    async def get(self, delivery: str) -> dict[str, Any] | None:
        raw = await self.redis.get(mail(f"msg:{delivery}"))
        return json.loads(raw) if raw else None


def kept(delivery: str, item: dict[str, Any], *, task_id: str, at: datetime) -> Kept:
    """The email's triage and its `EmailReceived`, kept once under its delivery (the Message-ID's digest)."""
    fields = _summary(item, task_id, at)
    event = EmailReceived(at=at, task_id=task_id, summary=_said(item), detail=fields)
    return Kept(mail(f"msg:{delivery}"), json.dumps(fields), [event])


def _summary(item: dict[str, Any], task_id: str, at: datetime) -> dict[str, Any]:
    found = item["mail"]
    return {
        "triage": item["triage"],
        "from": found.get("sender", ""),
        "subject": found.get("subject", ""),
        "message_id": found.get("message_id", ""),
        "folder": item["folder"],
        "uid": item["uid"],
        "uidvalidity": item["uidvalidity"],
        "flags": found.get("flags", []),
        "attachments": len(found.get("attachments", [])),
        "task": task_id,
        "client": item.get("client", ""),
        "card": item.get("card", ""),
        "at": at.isoformat(),
    }


def _said(item: dict[str, Any]) -> str:
    found = item["mail"]
    return f"Email from {found.get('sender') or 'unknown'}: “{found.get('subject', '')[:80]}” ({item['triage']})"
