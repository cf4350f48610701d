"""The SMTP client behind `email.send` (connectors/email.py): smtplib's, reporting the hand-over — after DATA's
354 and the message text, just before the end-of-data marker — and the errors of a send in Deputy's words."""

from __future__ import annotations

import contextlib
import re
import smtplib
import socket
from collections.abc import Callable
from typing import Any

from orchestrator.errors import ConnectorError, PermanentConnectorError, TransientConnectorError

CRLF = b"\r\n"
LINE_ENDS = re.compile(r"\r\n|\n|\r(?!\n)")
LEADING_DOT = re.compile(rb"(?m)^\.")


class HandOverSMTP(smtplib.SMTP):
    """smtplib's client, except that DATA reports the hand-over: after the server's 354 and the message text,
    just before the end-of-data marker that makes the server take the message. If the hand-over can't be
    recorded, the marker is never sent and the connection is dropped, so the server discards the message."""

    on_hand_over: Callable[[], None] | None = None
    """Set per message by `EmailConnector._send`."""

    def connect(self, host: str = "localhost", port: int = 0, source_address: Any = None) -> tuple[int, bytes]:
        """With Nagle off: the end-of-data marker follows the text in a small write of its own, which Nagle would
        hold until the server acknowledged the text — and a server waiting for the marker delays that ack (about
        40 ms per email on Linux)."""
        reply = super().connect(host, port, source_address)
        if self.sock is not None:
            self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return reply

    def data(self, msg: Any) -> tuple[int, bytes]:
        self.putcmd("data")
        code, reply = self.getreply()
        if code != 354:
            raise smtplib.SMTPDataError(code, reply)
        self.send(_dot_quoted(msg))
        try:
            if self.on_hand_over is not None:
                self.on_hand_over()
        except Exception as err:
            self.close()
            raise HandOverNotRecorded(str(err) or type(err).__name__) from err
        except BaseException:
            self.close()
            raise
        self.send(b"." + CRLF)
        return self.getreply()


def in_words(err: Exception) -> ConnectorError | None:
    if isinstance(err, HandOverNotRecorded):
        return TransientConnectorError(f"nothing was sent: the hand-over could not be recorded ({err})")
    if isinstance(err, smtplib.SMTPRecipientsRefused):
        return PermanentConnectorError(f"the SMTP server refused the recipient: {_first(err.recipients)}")
    if isinstance(err, smtplib.SMTPResponseException):
        raw = err.smtp_error
        detail = f"SMTP {err.smtp_code}: {(raw.decode(errors='replace') if isinstance(raw, bytes) else raw)[:200]}"
        return (PermanentConnectorError if err.smtp_code >= 500 else TransientConnectorError)(detail)
    if isinstance(err, (OSError, smtplib.SMTPException)):
        return ConnectorError(f"the SMTP connection broke mid-send: {err}")
    return None


def gone(err: ConnectorError) -> bool:
    """The kept connection was gone: closed by the server (421, or no answer at all), not a refusal."""
    cause = err.__cause__
    if isinstance(cause, smtplib.SMTPResponseException):
        return cause.smtp_code == 421
    return isinstance(cause, (OSError, smtplib.SMTPServerDisconnected))


def close_quietly(client: smtplib.SMTP) -> None:
    with contextlib.suppress(Exception):
        client.close()


class HandOverNotRecorded(Exception):
    """The hand-over could not be recorded, so the end of the data was never sent."""


class HandOverSMTPSSL(smtplib.SMTP_SSL, HandOverSMTP):
    """The same over implicit TLS (`smtps://`)."""


def _dot_quoted(msg: Any) -> bytes:
    """The message as DATA sends it (RFC 5321 4.5.2), without the end-of-data marker."""
    data = LINE_ENDS.sub("\r\n", msg).encode("ascii") if isinstance(msg, str) else bytes(msg)
    quoted = LEADING_DOT.sub(b"..", data)
    return quoted if quoted.endswith(CRLF) else quoted + CRLF


def _first(recipients: dict[str, Any]) -> str:
    for address, (code, reason) in recipients.items():
        return f"{address} ({code} {reason.decode(errors='replace') if isinstance(reason, bytes) else reason})"
    return "unknown"
