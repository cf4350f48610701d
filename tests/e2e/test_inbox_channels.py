"""The inbox's flow with Slack and Telegram as the channel: a client's email arrives (real pymap server) → its card
in the operator's chat → the Approve button → one threaded reply over SMTP, one copy in Sent, the original
flagged \\Answered. The platforms are the fakes in tests/fakes, the worker a real `deputy worker`."""

from __future__ import annotations

from email import message_from_bytes

from tests.conftest import Smtp, Workers, eventually
from tests.e2e import test_slack as slack_flow
from tests.e2e import test_telegram as telegram_flow
from tests.e2e.helpers import watched
from tests.e2e.test_slack import slack_env
from tests.e2e.test_telegram import api, tg_env
from tests.fakes import slack_api as slack
from tests.fakes.slack_api import FakeSlack
from tests.fakes.telegram_api import CHAT, FakeBotApi
from tests.imap_server import ImapServer, email

__all__ = ["api", "slack_env", "tg_env"]  # the fixtures this module shares


async def mailbox(server: ImapServer, folder: str) -> str:
    await server.create(folder, "Sent", "Archive")
    return server.url(folder)


async def check_sent(server: ImapServer, folder: str, smtp: Smtp) -> None:
    await eventually(lambda: smtp.messages, 30, "the reply")
    sent = smtp.messages[0]
    assert (sent["Subject"], sent["In-Reply-To"]) == ("Re: Invoice 42", f"<{folder}@acme.example>")
    assert sent["References"] == f"<{folder}@acme.example>"

    async def filed() -> bool:
        copies = [
            h for _, h in await server.messages("Sent") if message_from_bytes(h)["Message-ID"] == sent["Message-ID"]
        ]
        answered = all("\\Answered" in flags for flags, _ in await server.messages(folder))
        return len(copies) == 1 and answered

    await eventually(filed, 20, "one copy in Sent and the original answered")
    assert len(smtp.messages) == 1


async def test_on_telegram(
    api: FakeBotApi, tg_env: dict[str, str], workers: Workers, smtp: Smtp, imap_server: ImapServer
) -> None:
    env = {**tg_env, "DEPUTY_IMAP_URL": await mailbox(imap_server, "TG")}
    workers.start(**env)
    async with telegram_flow._deputy(api, env) as deputy:
        await imap_server.append(email(message_id="<TG@acme.example>"), "TG")
        cards = await watched(deputy.cards, 30, "the reply's card", "inbox ")
        card = cards[0]
        assert "Jane Client" in card.params["text"] and "needs reply" in card.params["text"]
        assert str(card.params["chat_id"]) == str(CHAT)
        button = card.markup()[0][0]["callback_data"]
        assert button.startswith("a:")
        message_id = int(card.params.get("message_id") or _message_id(api, card))
        await deputy.click(button, message_id)
        await check_sent(imap_server, "TG", smtp)
        read = [b["callback_data"] for row in card.markup() for b in row if b["callback_data"].startswith("mr:")]
        await deputy.click(read[0], message_id)  # Mark read, after the reply
        await eventually(lambda: _all_have(imap_server, "TG", "\\Seen"), 30, "the original marked read")


def _message_id(api: FakeBotApi, card: object) -> int:
    return max(int(m) for (_, m) in api.messages)


async def test_on_slack(
    slack_api: FakeSlack, slack_env: dict[str, str], workers: Workers, smtp: Smtp, imap_server: ImapServer
) -> None:
    env = {**slack_env, "DEPUTY_IMAP_URL": await mailbox(imap_server, "SL")}
    workers.start(**env)
    async with slack_flow.running(slack_api, env) as deputy:
        await imap_server.append(email(message_id="<SL@acme.example>"), "SL")
        cards = await watched(deputy.cards, 30, "the reply's card", "inbox ")
        card = cards[0]
        assert "needs reply" in card.text
        pid = card.params["blocks"][-1]["elements"][0]["value"]
        assert await deputy.send(slack.click("deputy_approve", pid, ts=card.params.get("ts", "")), form=True) == 200
        await check_sent(imap_server, "SL", smtp)
        ids = [b["action_id"] for b in card.params["blocks"][-1]["elements"]]
        assert {"deputy_mark_read", "deputy_archive"} <= set(ids) and "deputy_add_client" in ids  # a stranger
        assert await deputy.send(slack.click("deputy_archive", pid, ts=card.params.get("ts", "")), form=True) == 200
        await eventually(lambda: _has(imap_server, "Archive", b"SL@acme.example"), 30, "the original archived")
        assert not await _has(imap_server, "SL", b"SL@acme.example")


async def _all_have(server: ImapServer, folder: str, flag: str) -> bool:
    return all(flag in flags for flags, _ in await server.messages(folder))


async def _has(server: ImapServer, folder: str, message_id: bytes) -> bool:
    return any(message_id in head for _, head in await server.messages(folder))
