"""`email.send` over SMTP. The Message-ID is derived from the idempotency key, so a duplicate (should one
ever happen) is recognisable by mail clients; SMTP itself cannot be asked "did you get this?", hence
`resend_safe = False`. The hand-over is the moment just before the end-of-data marker: until then the server
holds nothing it would deliver, so an attempt cut short earlier is simply sent again; one cut short later
may have been delivered, and the operator decides (Send again / Mark as sent).

A connector keeps its SMTP connection between sends (one per warm job process): a connection found dead before
the hand-over (the server closed it while idle) is opened again and the email sent on the new one, as nothing
was handed over; one lost after the hand-over follows the rule above."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import re
import smtplib
import socket
import ssl
import threading
from collections.abc import Callable
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, parseaddr
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from redis.asyncio import Redis

from connectors.deadlines import deadline_s
from connectors.smtp import HandOverNotRecorded, HandOverSMTP, HandOverSMTPSSL, close_quietly, gone, in_words
from orchestrator.errors import BadRequest, ConnectorError, PermanentConnectorError, TransientConnectorError
from orchestrator.kinds import Check, Preview, Traits
from orchestrator.ports import HandOver, no_hand_over

__all__ = ["HandOverNotRecorded", "HandOverSMTP", "HandOverSMTPSSL"]  # the SMTP client lives in connectors/smtp.py

ADDRESS = re.compile(
    r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
    r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$"
)
MAX_BODY = 100_000
TIMEOUT_S = 20.0
DEADLINE_S = 120.0
"""A whole send (connect to the server's last reply) at most this long, or half of DEPUTY_JOB_TIMEOUT_S when that
is shorter (connectors/deadlines.py): a server that holds a reply fails the attempt, not the worker."""
SIGN_OFF = re.compile(r"^(?:\w+\s+){0,3}(?:regards|thanks|thank you|cheers|sincerely|best|wishes|yours|truly),$", re.I)


TRAITS = Traits("email.send", outward=True, minutes_saved=6.0, noun="email", done="sent")
NOT_SET = "SMTP not set: email can be drafted, not sent (set DEPUTY_SMTP_URL and DEPUTY_EMAIL_FROM)"


@dataclass(frozen=True)
class Values:
    """DEPUTY_SMTP_URL and DEPUTY_EMAIL_FROM, checked at start by config/settings.py (which names them)."""

    smtp_url: str | None = None
    email_from: str | None = None
    job_timeout_s: int = 600


def build(values: Values, redis: Redis) -> EmailConnector:
    return EmailConnector(values.smtp_url, values.email_from, deadline_s=deadline_s(values.job_timeout_s, DEADLINE_S))


async def doctor(values: Values) -> list[Check]:
    """Connect and log in the way sending does, and stop there: nothing is sent."""
    if not values.smtp_url:
        return [Check("Email", True, NOT_SET, info=True)]
    connector = EmailConnector(values.smtp_url, values.email_from)
    target = connector.target
    assert target is not None
    try:
        await asyncio.to_thread(lambda: connector.open_session(target).quit())
    except ConnectorError as err:
        return [Check("Email", False, _refused(err, target))]
    return [Check("Email", True, f"SMTP at {target.host}:{target.port} answers, sending as {values.email_from}")]


def _refused(err: ConnectorError, target: SmtpTarget) -> str:
    if isinstance(err.__cause__, smtplib.SMTPAuthenticationError):
        return f"SMTP login to {target.host}:{target.port} was refused: check the user and password in DEPUTY_SMTP_URL"
    why = err.__cause__ or err
    return f"can't talk to SMTP at {target.host}:{target.port} ({why}); check DEPUTY_SMTP_URL"


def warm() -> None:
    """Import what building and flattening a message imports lazily (email.policy, generators…)."""
    message = EmailMessage()
    message["Subject"] = "warm-up"
    message.set_content("warm-up")
    message.as_bytes()


def check_address(address: str) -> str:
    """The address, normalised, or `BadRequest` that quotes it back."""
    cleaned = address.strip().strip("<>,.;:()[]\"'")
    if len(cleaned) > 254 or not ADDRESS.match(cleaned) or ".." in cleaned:
        raise BadRequest(
            f"'{address}' is not a valid email address. Check it and try again (a request, or /edit on a card)."
        )
    return cleaned.lower()


@dataclass(frozen=True)
class SmtpTarget:
    host: str
    port: int
    user: str | None
    password: str | None
    tls: bool
    starttls: bool

    @classmethod
    def parse(cls, url: str) -> SmtpTarget:
        parts = urlsplit(url)
        query = parse_qs(parts.query)
        tls = parts.scheme == "smtps"
        return cls(
            host=parts.hostname or "localhost",
            port=parts.port or (465 if tls else 25),
            user=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password else None,
            tls=tls,
            starttls=query.get("starttls", ["0"])[0] in ("1", "true", "yes"),
        )


class EmailConnector:
    kind, traits = TRAITS.kind, TRAITS
    resend_safe = False

    def __init__(self, smtp_url: str | None, sender: str | None, *, deadline_s: float = 120.0) -> None:
        self.target = SmtpTarget.parse(smtp_url) if smtp_url else None
        self.sender = sender
        self.deadline_s = deadline_s
        self._idle: HandOverSMTP | None = None
        self._idle_lock = threading.Lock()

    def validate(self, fields: dict[str, Any]) -> dict[str, Any]:
        to = check_address(str(fields.get("to", "")))
        subject = " ".join(str(fields.get("subject", "")).split())[:200]
        body = str(fields.get("body", ""))
        if not subject:
            raise BadRequest("The email needs a subject.")
        if len(body) > MAX_BODY:
            raise BadRequest(f"The email body is over {MAX_BODY:,} characters.")
        return {"to": to, "subject": subject, "body": body}

    def preview(self, fields: dict[str, Any]) -> Preview:
        summary = f"Send email “{fields['subject']}” to {fields['to']}"
        return Preview(summary, target=fields["to"], subject=fields["subject"], body=fields["body"])

    def unavailable(self) -> str:
        if self.target is None:
            return "email can't be sent: SMTP is not set up (set DEPUTY_SMTP_URL and DEPUTY_EMAIL_FROM)"
        return ""

    async def apply(self, fields: dict[str, Any], idempotency_key: str, handing_over: HandOver = no_hand_over) -> str:
        if self.target is None or not self.sender:
            raise PermanentConnectorError(self.unavailable())
        message = self.message(fields, idempotency_key)
        call = _Call(self.deadline_s)
        try:
            await asyncio.wait_for(
                asyncio.to_thread(self._send, message, _from_thread(handing_over, call), call), call.deadline_s
            )
        except TimeoutError:
            call.abandon()
            if call.handed_over:  # the server may have it: the hand-over rule decides (uncertain for email)
                raise ConnectorError(_stalled(self.target, call)) from None
            raise TransientConnectorError(f"{_stalled(self.target, call)}; nothing was sent") from None
        return f"Sent to {fields['to']}"

    def message(self, fields: dict[str, Any], idempotency_key: str) -> EmailMessage:
        assert self.sender
        domain = parseaddr(self.sender)[1].rpartition("@")[2] or "deputy.local"
        digest = hashlib.sha256(idempotency_key.encode()).hexdigest()[:16]
        message = EmailMessage()
        message["From"] = self.sender
        message["To"] = fields["to"]
        message["Subject"] = fields["subject"]
        message["Date"] = formatdate(localtime=False)
        message["Message-ID"] = f"<deputy.{idempotency_key.replace(':', '.')}.{digest}@{domain}>"
        message.set_content(signed(fields["body"], self.sender))
        return message

    def _send(self, message: EmailMessage, hand_over: Callable[[], None], call: _Call | None = None) -> None:
        """On the kept connection when there is one; if it turns out dead before the hand-over, once more on a
        new one (nothing was handed over, so nothing can arrive twice)."""
        client, reused = self._take(call)
        handed = threading.Event()

        def marked() -> None:
            hand_over()
            handed.set()

        try:
            self._deliver(client, message, marked, call)
        except ConnectorError as err:
            if not reused or handed.is_set() or not gone(err):
                raise
            self._deliver(self._open(call), message, marked, call)

    def _deliver(
        self, client: HandOverSMTP, message: EmailMessage, hand_over: Callable[[], None], call: _Call | None
    ) -> None:
        """A 5xx is permanent and a 4xx transient, whenever it comes (the server said it keeps nothing); a
        connection lost on the way is a plain `ConnectorError`: Deputy tells from the hand-over whether the
        email may have arrived. The connection is kept after a send that went through, closed after any other."""
        if call is not None:
            call.opened(client)
        client.on_hand_over = hand_over
        try:
            client.send_message(message)
        except Exception as err:
            close_quietly(client)
            if (said := in_words(err)) is None:
                raise
            raise said from err
        except BaseException:
            close_quietly(client)
            raise
        self._keep(client)

    def _take(self, call: _Call | None) -> tuple[HandOverSMTP, bool]:
        """The connection the last send left open (True), or a new one."""
        with self._idle_lock:
            client, self._idle = self._idle, None
        return (client, True) if client is not None else (self._open(call), False)

    def _open(self, call: _Call | None) -> HandOverSMTP:
        assert self.target is not None
        return self.open_session(self.target, call.deadline_s if call else TIMEOUT_S)

    def _keep(self, client: HandOverSMTP) -> None:
        with self._idle_lock:
            spare, self._idle = self._idle, client
        if spare is not None:  # two sends at once left two: one is enough
            close_quietly(spare)

    def open_session(self, target: SmtpTarget, timeout_s: float = TIMEOUT_S) -> HandOverSMTP:
        """Connected and logged in; nothing has been sent yet, so every failure here is unambiguous."""
        try:
            client = self._connect(target, min(timeout_s, TIMEOUT_S))
        except (OSError, smtplib.SMTPException) as err:
            raise TransientConnectorError(f"can't reach the SMTP server {target.host}:{target.port}: {err}") from err
        try:
            if target.user and target.password:
                client.login(target.user, target.password)
        except smtplib.SMTPAuthenticationError as err:
            client.close()
            raise PermanentConnectorError(f"SMTP login failed ({err.smtp_code}); check DEPUTY_SMTP_URL") from err
        except smtplib.SMTPNotSupportedError as err:
            client.close()
            raise PermanentConnectorError("the SMTP server offers no login (AUTH); check DEPUTY_SMTP_URL") from err
        except (OSError, smtplib.SMTPException) as err:
            client.close()
            raise TransientConnectorError(f"SMTP login to {target.host}:{target.port} failed: {err}") from err
        return client

    @staticmethod
    def _connect(target: SmtpTarget, timeout_s: float) -> HandOverSMTP:
        if target.tls:
            return HandOverSMTPSSL(target.host, target.port, timeout=timeout_s, context=ssl.create_default_context())
        client = HandOverSMTP(target.host, target.port, timeout=timeout_s)
        if target.starttls:
            client.starttls(context=ssl.create_default_context())
        return client


def signed(body: str, sender: str) -> str:
    """The sender's name under a sign-off that has none: a draft made before DEPUTY_EMAIL_FROM was set ends
    "Best regards," and nothing. Any other body goes as it is, so a name is never added twice."""
    name = parseaddr(sender)[0].strip()
    lines = body.rstrip().splitlines()
    if not name or not lines or not SIGN_OFF.match(lines[-1].strip()):
        return body
    return f"{body.rstrip()}\n{name}\n"


def _from_thread(handing_over: HandOver, call: _Call | None = None) -> Callable[[], None]:
    """The hand-over as the SMTP thread calls it: run on the event loop that awaits the send, and waited for —
    never past the send's deadline (the loop may be gone: a job stopped at its timeout), and never once the
    loop has given the send up: then the end-of-data marker is not sent and nothing is delivered."""
    loop = asyncio.get_running_loop()
    wait_s = call.deadline_s if call else TIMEOUT_S

    async def recorded() -> None:
        if call is not None and call.abandoned:
            raise HandOverNotRecorded("the send was past its deadline")
        await handing_over()
        if call is not None:
            call.handed_over = True

    return lambda: asyncio.run_coroutine_threadsafe(recorded(), loop).result(timeout=wait_s)


class _Call:
    """One send's deadline, shared by the event loop and the SMTP thread. Both sides of the hand-over run on
    the loop, so the loop's "give up" and the thread's "hand over" can't both happen."""

    def __init__(self, deadline_s: float) -> None:
        self.deadline_s = deadline_s
        self.abandoned = False
        self.handed_over = False
        self.client: smtplib.SMTP | None = None

    def opened(self, client: smtplib.SMTP) -> None:
        self.client = client

    def abandon(self) -> None:
        """Given up: the thread's blocked read ends now (the socket is shut), so the thread is not left behind."""
        self.abandoned = True
        sock = self.client.sock if self.client is not None else None
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)


def _stalled(target: SmtpTarget | None, call: _Call) -> str:
    where = f"{target.host}:{target.port}" if target else "the mail server"
    return f"the mail server {where} stopped answering (no reply within {call.deadline_s:.0f} s)"
