"""`deputy doctor`'s inbox lines against a real IMAP server: login, the folders, IDLE — and a refused login says
what to fix without ever showing the password."""

from __future__ import annotations

from config.settings import settings_with
from connectors.registry import doctor_all
from tests.imap_server import PASSWORD, ImapServer


async def lines(url: str) -> list[str]:
    checks = await doctor_all(settings_with({"DEPUTY_IMAP_URL": url}))
    return [c.line() for c in checks if c.name.startswith("Inbox")]


async def test_doctor_logs_in_finds_the_folders_and_says_idle(imap_server: ImapServer) -> None:
    await imap_server.create("Clients")
    found = await lines(imap_server.url("INBOX,Clients"))
    assert found[0].startswith("ok  Inbox: logged in at 127.0.0.1:") and "watching INBOX, Clients" in found[0]
    assert found[1] == "ok  Inbox IDLE: IDLE: new mail shows at once"


async def test_doctor_names_a_missing_folder_and_a_refused_login_without_the_password(
    imap_server: ImapServer,
) -> None:
    missing = await lines(imap_server.url("Nowhere"))
    assert missing[0].startswith("FIX Inbox:") and "no folder Nowhere" in missing[0]
    refused = await lines(imap_server.url().replace(PASSWORD, "wrong-pass"))
    assert refused[0].startswith("FIX Inbox:") and "check the user and password in DEPUTY_IMAP_URL" in refused[0]
    assert "wrong-pass" not in refused[0] and PASSWORD not in " ".join(missing + refused)


async def test_doctor_says_when_there_is_no_inbox() -> None:
    checks = await doctor_all(settings_with({}))
    assert [c.line() for c in checks if c.name == "Inbox"] == [
        "--  Inbox: DEPUTY_IMAP_URL not set: no inbox (replies in a thread need one)"
    ]
