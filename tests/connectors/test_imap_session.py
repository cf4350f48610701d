"""The IMAP session against a real server (pymap): what a SEARCH finds and what the server says beside it. Mail
that arrives after a search is announced once, in the answer to the next command, and never again in IDLE: the
inbox loop must search again when told, or the email waits for the next IDLE renewal (two minutes)."""

from __future__ import annotations

from connectors import imap
from tests.imap_server import ImapServer, email


async def test_a_search_that_missed_new_mail_is_told_of_it_and_the_next_finds_it(imap_server: ImapServer) -> None:
    await imap_server.create("Counted")
    session = await imap.Session.open(imap.ImapTarget.parse(imap_server.url("Counted")))
    try:
        await session.examine("Counted")
        assert await session.uids("ALL") == [] and not session.announced  # EXAMINE's count is no news
        await imap_server.append_many([email(message_id=f"<c{n}@acme.example>") for n in range(5)], "Counted")
        missed = await session.uids("ALL")  # searched as the folder was; the answer says `* 5 EXISTS`
        assert missed == [] and session.announced
        assert len(await session.uids("ALL")) == 5
    finally:
        await session.close()


async def test_mail_announced_in_a_commands_answer_is_not_announced_again_in_idle(imap_server: ImapServer) -> None:
    await imap_server.create("Quiet")
    session = await imap.Session.open(imap.ImapTarget.parse(imap_server.url("Quiet")))
    try:
        await session.examine("Quiet")
        await imap_server.append(email(), "Quiet")
        await session.ok("NOOP", session.client.noop())  # the server tells of it here...
        assert session.announced
        assert await session.idle(renew_s=1.0) is imap.Idled.QUIET  # ...and not in the IDLE that follows
    finally:
        await session.close()


async def test_mail_that_came_between_a_search_and_idle_is_not_told_in_it(imap_server: ImapServer) -> None:
    """Why the inbox loop's first IDLE after a catch-up is short (bot/sources/inbox.py SETTLE_S): pymap tells in
    IDLE only of what comes after it started. Only a search finds this email."""
    await imap_server.create("Between")
    session = await imap.Session.open(imap.ImapTarget.parse(imap_server.url("Between")))
    try:
        await session.examine("Between")
        assert await session.uids("ALL") == []
        await imap_server.append(email(), "Between")
        assert await session.idle(renew_s=1.0) is imap.Idled.QUIET
        assert len(await session.uids("ALL")) == 1
    finally:
        await session.close()


async def test_news_in_idle_is_fetched_right_behind_the_done_and_the_session_goes_on(imap_server: ImapServer) -> None:
    """The UID FETCH goes out behind IDLE's DONE before the server answered it (pipelined): it gets the new mail the
    server had told the session of (a server announces a message before it shows it: one that came a moment later
    is the search's, which the inbox loop runs next), and the commands after it find the session in order."""
    import asyncio

    await imap_server.create("News")
    session = await imap.Session.open(imap.ImapTarget.parse(imap_server.url("News")))
    try:
        await session.examine("News")
        told = asyncio.ensure_future(session.idle(renew_s=10.0))
        await asyncio.sleep(0.2)  # in IDLE
        await imap_server.append_many([email(message_id=f"<n{n}@acme.example>") for n in range(2)], "News")
        assert await told is imap.Idled.NEWS and session.ending is not None
        fetched = await session.fetch_range(1, 1000, 1000)  # what the server had told this session of by then
        uids = await session.uids("ALL")  # the search after it finds the rest
        assert fetched and [uid for uid, _, _ in fetched] == uids[: len(fetched)] and len(uids) == 2
        assert all(b"<n" in raw and size == len(raw) for _, raw, size in fetched)
        assert await session.fetch_range(5000, 5010, 1000) == []  # no UID there: nothing, no error
        await session.idle(renew_s=0.5)  # IDLE again (a late notice of those two may end it at once)
        assert await session.uids("ALL") == uids
    finally:
        await session.close()


async def test_a_message_cut_at_the_limit_gets_its_whole_size_from_the_server(imap_server: ImapServer) -> None:
    """The body is read up to the limit only; a message shorter than the limit is whole (its size is its length),
    one cut at it has its size asked for (RFC822.SIZE), so it can be flagged as read in part."""
    await imap_server.create("Sizes")
    small, big = email(message_id="<small@acme.example>"), email(message_id="<big@acme.example>", body="x" * 5000)
    await imap_server.append_many([small, big], "Sizes")
    session = await imap.Session.open(imap.ImapTarget.parse(imap_server.url("Sizes")))
    try:
        await session.examine("Sizes")
        [first, second] = await session.uids("ALL")
        [(_, whole, whole_size), (_, cut, cut_size)] = await session.fetch_many([first, second], 4000)
        assert whole_size == len(whole) < 4000
        assert len(cut) == 4000 and cut_size > 5000
        assert await session.fetch_many([9999], 4000) == []
    finally:
        await session.close()


async def test_a_batch_is_fetched_in_one_command_with_only_the_uids_asked_for(imap_server: ImapServer) -> None:
    """A catch-up's batch (bot/sources/inbox.py BATCH): the UIDs asked for that are still there, in UID order, each
    whole, and none between them that wasn't asked for; nothing asked, no command at all."""
    await imap_server.create("Batch")
    await imap_server.append_many([email(message_id=f"<b{n}@acme.example>") for n in range(5)], "Batch")
    session = await imap.Session.open(imap.ImapTarget.parse(imap_server.url("Batch")))
    try:
        await session.examine("Batch")
        uids = await session.uids("ALL")
        sent: list[str] = []
        send = session.client.protocol.send

        def counted(line: str, scrub: str | None = None) -> None:
            sent.append(line)
            send(line, scrub)

        session.client.protocol.send = counted
        fetched = await session.fetch_many([uids[4], uids[1], 9999, uids[3]], 4000)
        assert [uid for uid, _, _ in fetched] == [uids[1], uids[3], uids[4]]
        assert [raw.count(b"<b") for _, raw, _ in fetched] == [1, 1, 1] and b"<b1@" in fetched[0][1]
        assert all(size == len(raw) for _, raw, size in fetched)
        assert await session.fetch_many([], 4000) == []
        assert len(sent) == 1 and "UID FETCH" in sent[0]
    finally:
        await session.close()


def test_a_fetch_answer_is_read_whether_the_uid_comes_before_or_after_the_body() -> None:
    lines = [
        b"1 FETCH (UID 7 RFC822.SIZE 9 BODY[]<0> {3}",
        bytearray(b"abc"),
        b")",
        b"2 FETCH (RFC822.SIZE 5 BODY[]<0> {2}",
        bytearray(b"de"),
        b" UID 8)",
        b"3 FETCH (FLAGS (\\Seen))",  # unsolicited: no body
        b"UID FETCH completed.",
    ]
    assert imap._messages(lines) == [(7, b"abc", 9), (8, b"de", 5)]
