"""Where the email connector hands a message over, against a real SMTP server (aiosmtpd): after DATA's 354 and
the message text, before the end-of-data marker — so a crash before it leaves the server nothing to deliver."""

from __future__ import annotations

import socket
from typing import Any

import pytest

from connectors.email import EmailConnector, HandOverSMTP
from orchestrator.errors import PermanentConnectorError, TransientConnectorError
from tests.conftest import SENDER, Smtp

FIELDS = {"to": "jane@acme.com", "subject": "Invoice 42", "body": "Hi Jane\n.\n..a line that starts with dots\nSam"}


async def test_the_hand_over_comes_once_before_the_server_has_the_message(smtp: Smtp) -> None:
    connector = EmailConnector(smtp.url, SENDER)
    seen: list[int] = []

    async def handing_over() -> None:
        seen.append(len(smtp.messages))

    assert await connector.apply(connector.validate(FIELDS), "p1:0", handing_over) == "Sent to jane@acme.com"
    assert seen == [0] and len(smtp.messages) == 1
    body = str(smtp.messages[0].get_payload())
    assert body.splitlines() == ["Hi Jane", ".", "..a line that starts with dots", "Sam"]


async def test_when_the_hand_over_cannot_be_recorded_the_server_keeps_nothing(smtp: Smtp) -> None:
    connector = EmailConnector(smtp.url, SENDER)

    async def unrecordable() -> None:
        raise ConnectionError("Redis is gone")

    with pytest.raises(TransientConnectorError, match=r"nothing was sent: the hand-over could not be recorded \(Redis"):
        await connector.apply(connector.validate(FIELDS), "p1:0", unrecordable)
    assert smtp.messages == []
    await connector.apply(connector.validate(FIELDS), "p1:0")  # and the next attempt goes through
    assert len(smtp.messages) == 1


@pytest.mark.parametrize(
    ("answer", "error"), [("554 5.7.1 rejected", PermanentConnectorError), ("451 busy", TransientConnectorError)]
)
async def test_a_refusal_after_the_hand_over_is_still_a_plain_answer(
    smtp: Smtp, answer: str, error: type[Exception]
) -> None:
    async def refuse(server: Any, session: Any, envelope: Any) -> str:
        return answer

    smtp.handle_DATA = refuse  # type: ignore[method-assign]
    connector = EmailConnector(smtp.url, SENDER)
    handed: list[bool] = []

    async def handing_over() -> None:
        handed.append(True)

    with pytest.raises(error, match=answer.split()[0]):
        await connector.apply(connector.validate(FIELDS), "p1:0", handing_over)
    assert handed == [True]


def test_the_end_of_data_marker_is_not_held_back_by_nagle(smtp: Smtp) -> None:
    """It follows the text in a write of its own; with Nagle on it would wait for the server's delayed ack."""
    client = HandOverSMTP("127.0.0.1", smtp.port, timeout=5)
    try:
        assert client.sock is not None
        assert client.sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0
    finally:
        client.quit()
