"""Once, whatever happens: the IMAP server restarting under an IDLE (which also empties pymap's in-memory mailbox
and gives it a new UIDVALIDITY: the same mail appended again is recognised by Message-ID), Deputy restarting, and
two Deputy processes watching one mailbox with a backlog waiting. Each email is triaged once (one
`EmailReceived`) and each that needs a reply starts one task. The Deputy processes run in the test's loop (each
its own runtime, app and Redis connections): the claims they race on are the real ones in Redis."""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from collections.abc import AsyncIterator
from typing import Any

import pytest

from bot.sources.inbox import FOLDERS
from bot.wiring import Runtime
from tests.conftest import eventually, serve, settings_from
from tests.e2e.test_inbox import events
from tests.imap_server import ImapServer, email

ASKS = "Could you confirm the date?"


@contextlib.asynccontextmanager
async def deputy(env: dict[str, str]) -> AsyncIterator[tuple[Runtime, Any]]:
    from bot.web import deputy_app
    from bot.wiring import build_runtime
    from memory.embedded import free_port

    runtime = build_runtime(settings_from(env), env["REDIS_URL"])
    app = deputy_app(runtime)
    runner = await serve(app, free_port())
    try:
        yield runtime, app
    finally:
        await runner.cleanup()
        await runtime.close()


def mails(prefix: str, n: int) -> list[bytes]:
    """Half ask something (needs reply: a task each), half don't (FYI)."""
    return [
        email(message_id=f"<{prefix}{i}@acme.example>", subject=f"Note {i}", body=ASKS if i % 2 else "For the record.")
        for i in range(n)
    ]


async def triaged(runtime: Runtime, n: int) -> Counter[str]:
    seen = Counter(str(e.detail["message_id"]) for e in await events(runtime, "EmailReceived"))
    return seen if sum(seen.values()) >= n else Counter()


async def tasks_started(runtime: Runtime) -> int:
    return len(await events(runtime, "TaskSubmitted"))


async def test_server_restart_mid_idle_uidvalidity_change_and_deputy_restart(
    env: dict[str, str], imap_server: ImapServer
) -> None:
    await imap_server.create("R")
    env = {**env, "DEPUTY_IMAP_URL": imap_server.url("R")}
    async with deputy(env) as (runtime, _):
        await imap_server.append_many(mails("a", 3), "R")
        assert set((await eventually(lambda: triaged(runtime, 3), 20, "3 triaged")).values()) == {1}
        imap_server.restart()  # the IDLE connection drops; the mailbox comes back empty, under a new UIDVALIDITY
        await imap_server.create("R")
        await imap_server.append_many([*mails("a", 3), *mails("b", 1)], "R")
        seen = await eventually(lambda: triaged(runtime, 4), 30, "the new email after the server's restart")
    async with deputy(env) as (runtime, _):
        await imap_server.append_many(mails("c", 1), "R")
        seen = await eventually(lambda: triaged(runtime, 5), 20, "the email after Deputy's restart")
        await asyncio.sleep(0)
    assert sorted(seen) == sorted(
        ["<a0@acme.example>", "<a1@acme.example>", "<a2@acme.example>", "<b0@acme.example>", "<c0@acme.example>"]
    )
    assert set(seen.values()) == {1}
    assert await tasks_started(runtime) == 1  # a1 asks something (odd numbers do), once


async def backlog(env: dict[str, str], imap_server: ImapServer, folder: str, n: int) -> None:
    """`n` emails waiting at first connect; two Deputys take them, one restarting half way."""
    await imap_server.create(folder)
    await imap_server.append_many(mails(folder, n), folder)
    env = {**env, "DEPUTY_IMAP_URL": imap_server.url(folder)}
    async with deputy(env) as (one, _):
        async with deputy(env) as (_two, app):
            await eventually(lambda: _recorded(one, n // 3), 120, "a third of the backlog")
        async with deputy(env):  # the second one again, restarted mid-backlog
            await eventually(lambda: _recorded(one, n), 300, "the whole backlog")
            await eventually(lambda: _started(one, n // 2), 60, "a task for each that asks something")
            await asyncio.sleep(0.5)  # anything triaged or started twice would show up now
            seen = await triaged(one, n)
    assert len(seen) == n and set(seen.values()) == {1}, "each email triaged exactly once"
    assert await tasks_started(one) == n // 2
    assert app[FOLDERS]


async def _started(runtime: Runtime, n: int) -> bool:
    """The triage is stored with the email; its task starts behind that write."""
    return int(await runtime.redis.hget("deputy:metrics:events", "TaskSubmitted") or 0) >= n


async def _recorded(runtime: Runtime, n: int) -> bool:
    """Cheap to ask often (the ledger is read once, at the end): how many emails have their triage stored."""
    found = [k async for k in runtime.redis.scan_iter("deputy:mail:msg:*", count=1000)]
    return len(found) >= n


async def test_two_deputys_and_a_restart_take_a_backlog_once(env: dict[str, str], imap_server: ImapServer) -> None:
    await backlog(env, imap_server, "B", 60)


@pytest.mark.soak
async def test_a_thousand_waiting_emails_are_each_triaged_once(env: dict[str, str], imap_server: ImapServer) -> None:
    await backlog(env, imap_server, "K", 1000)


async def malformed_through_the_server(env: dict[str, str], imap_server: ImapServer, folder: str, n: int) -> None:
    """`n` malformed messages (tests/connectors/test_mime.py's mutations, each with a Message-ID of its own put in
    front) appended to the real server: each becomes exactly one `EmailReceived` (triaged, and flagged where it
    was broken), nothing lands in the dead letters, and the loop still takes a good email after them."""
    import random

    from agents.triage import KINDS
    from memory import keys
    from tests.connectors.test_mime import malformed, valid

    rng = random.Random(2027)
    pool = [valid(random.Random(i)) for i in range(30)]
    junk = [b"Message-ID: <fz%d@fuzz.example>\r\n" % i + malformed(rng, pool) for i in range(n)]
    await imap_server.create(folder)
    await imap_server.append_many(junk, folder)
    env = {**env, "DEPUTY_IMAP_URL": imap_server.url(folder)}
    async with deputy(env) as (runtime, _):
        await eventually(lambda: _recorded(runtime, n), 300, "every malformed email recorded")
        await imap_server.append(email(message_id="<after@acme.example>", body=ASKS), folder)
        seen = await eventually(lambda: triaged(runtime, n + 1), 30, "a good email after the junk")
        received = await events(runtime, "EmailReceived")
        assert await runtime.redis.xlen(keys.inbox("dead")) == 0
    assert sum(seen.values()) == n + 1 and set(seen.values()) == {1}, "each once, each with its Message-ID"
    assert all(e.detail["triage"] in KINDS for e in received)
    assert sum(bool(e.detail["flags"]) for e in received) > n // 4


async def test_malformed_mail_through_the_server_is_triaged_or_flagged(
    env: dict[str, str], imap_server: ImapServer
) -> None:
    await malformed_through_the_server(env, imap_server, "FZ", 40)


@pytest.mark.soak
async def test_a_thousand_malformed_emails_through_the_server(env: dict[str, str], imap_server: ImapServer) -> None:
    await malformed_through_the_server(env, imap_server, "FZK", 1000)
