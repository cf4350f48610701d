"""The email connector against a real SMTP server (aiosmtpd)."""

from __future__ import annotations

import pytest

from connectors.email import EmailConnector, check_address
from memory.embedded import free_port
from orchestrator.errors import BadRequest, PermanentConnectorError, TransientConnectorError
from tests.conftest import SENDER, Smtp

FIELDS = {"to": "Jane@Acme.com", "subject": "Invoice 42", "body": "Hi Jane"}


@pytest.mark.parametrize(
    "bad",
    [
        "jane",
        "jane@",
        "@acme.com",
        "jane@@acme.com",
        "jane@acme",
        "ja ne@acme.com",
        "jane@acme..com",
        "x" * 250 + "@a.com",
    ],
)
def test_invalid_addresses_are_refused_with_the_address_quoted(bad: str) -> None:
    with pytest.raises(BadRequest, match="not a valid email address"):
        check_address(bad)


def test_address_is_normalised() -> None:
    assert check_address("<Jane@Acme.com>,") == "jane@acme.com"


async def test_sends_with_message_id_from_the_idempotency_key(smtp: Smtp) -> None:
    connector = EmailConnector(smtp.url, SENDER)
    fields = connector.validate(FIELDS)
    assert await connector.apply(fields, "p1:0") == "Sent to jane@acme.com"
    [mail] = smtp.messages
    assert mail["Message-ID"].startswith("<deputy.p1.0.") and mail["Message-ID"].endswith("@example.com>")
    assert mail["From"] == SENDER and mail["Subject"] == "Invoice 42"


async def test_unreachable_server_is_transient() -> None:
    connector = EmailConnector(f"smtp://127.0.0.1:{free_port()}", SENDER)
    with pytest.raises(TransientConnectorError, match="can't reach the SMTP server"):
        await connector.apply(connector.validate(FIELDS), "p1:0")


async def test_refused_recipient_is_permanent(smtp: Smtp) -> None:
    async def refuse(server: object, session: object, envelope: object, address: str, options: object) -> str:
        return "550 no such user"

    smtp.handle_RCPT = refuse  # type: ignore[attr-defined]
    connector = EmailConnector(smtp.url, SENDER)
    with pytest.raises(PermanentConnectorError, match="refused the recipient"):
        await connector.apply(connector.validate(FIELDS), "p1:0")
    assert smtp.messages == []


def test_without_smtp_it_says_why_it_cannot_send() -> None:
    assert "DEPUTY_SMTP_URL" in EmailConnector(None, None).unavailable()


async def test_a_failed_login_is_permanent_and_sends_nothing(smtp: Smtp) -> None:
    connector = EmailConnector(f"smtp://sam:pw@127.0.0.1:{smtp.port}", SENDER)  # the test server offers no AUTH
    with pytest.raises(PermanentConnectorError, match="offers no login"):
        await connector.apply(connector.validate(FIELDS), "p1:0")
    assert smtp.messages == []
