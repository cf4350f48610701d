"""The floor under new mail → card: the least any inbox-to-card design does after IDLE's notice, as its own process,
so `bench/inbox.py` can time it beside Deputy in the same run. It is told of the email in IDLE, ends the IDLE with
the `UID FETCH` pipelined behind the `DONE` (as Deputy does, through the same `connectors.imap.Session`), writes
the email once (a claim and an entry in one fsynced script) and writes the card. With `--parse` it also parses the
email (`connectors.mime.parse`, as Deputy does) and stores it as JSON. No triage, no client lookup, no task, no
draft, no ledger: whatever Deputy's ratio is above this one is Deputy's; this one is the server's, Redis' and the
box's.
Run by bench/inbox.py: `python -m bench.inbox_floor IMAP_URL REDIS_URL [--parse]`; the card goes to the stream
`bench:floor:<folder>`."""

from __future__ import annotations

import asyncio
import json
import sys
from typing import Any

from redis.asyncio import Redis

from connectors import imap, mime

STORE = """
if redis.call('SET', KEYS[1], '1', 'NX') then redis.call('XADD', KEYS[2], '*', 'body', ARGV[1]) end
return 1
"""


def card_stream(folder: str) -> str:
    return f"bench:floor:{folder}"


async def watch(imap_url: str, redis_url: str, parse: bool) -> None:
    target = imap.ImapTarget.parse(imap_url)
    folder = target.folders[0]
    redis = Redis.from_url(redis_url)
    store = redis.register_script(STORE)
    session = await imap.Session.open(target)
    await session.examine(folder)
    high = max(await session.uids("ALL") or [0])
    while True:
        await session.idle(60)  # told of news: the fetch goes out behind its DONE
        while True:  # and again until nothing more: mail told of in a command's answer isn't told in IDLE
            session.announced = False
            first = high + 1 if high else min(await session.uids("ALL") or [1])  # the folder's first UID
            fetched = await session.fetch_range(first, first + 9, mime.FETCH_MAX)
            for uid, raw, size in fetched:
                high = uid
                await card(redis, store, folder, uid, read(raw, size, parse))
            if not fetched and not session.announced:
                break


def read(raw: bytes, size: int, parse: bool) -> str:
    """The email as stored: parsed into JSON as Deputy parses it, or its bytes as they came."""
    return json.dumps(mime.parse(raw, size=size).as_dict()) if parse else raw.decode(errors="replace")


async def card(redis: Redis, store: Any, folder: str, uid: int, body: str) -> None:
    await store(keys=[f"bench:floor:claim:{folder}:{uid}", f"bench:floor:mail:{folder}"], args=[body])
    await redis.xadd(card_stream(folder), {"kind": "card", "text": body[:200]})


if __name__ == "__main__":
    asyncio.run(watch(sys.argv[1], sys.argv[2], "--parse" in sys.argv[3:]))
