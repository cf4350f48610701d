"""The mail store's claims as the inbox's catch-up asks them: which of a batch of UIDs is new, in one round trip."""

from __future__ import annotations

from bot.wiring import Runtime
from memory.mail import MailStore, uid_claim


async def test_untaken_names_the_uids_no_process_has_claimed_in_the_order_asked(runtime: Runtime) -> None:
    mail = MailStore(runtime.redis)
    await runtime.redis.set(uid_claim("INBOX", 7, 102), "1")
    await runtime.redis.set(uid_claim("INBOX", 8, 103), "1")  # another UIDVALIDITY's: not this one's claim
    assert await mail.untaken("INBOX", 7, [104, 101, 102, 103]) == [104, 101, 103]
    assert await mail.untaken("Other", 7, [102]) == [102]
    assert await mail.untaken("INBOX", 7, []) == []
