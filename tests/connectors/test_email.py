"""The email connector against a real SMTP server (aiosmtpd)."""

from __future__ import annotations

import pytest

from bot.wiring import build_runtime
from connectors.email import EmailConnector, check_address
from memory.embedded import free_port
from orchestrator.errors import BadRequest, PermanentConnectorError, TransientConnectorError
from orchestrator.model import ProposalDraft
from tests.agents.test_offline import task
from tests.conftest import SENDER, Smtp, settings_from

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


def sent_body(smtp: Smtp) -> str:
    [mail] = smtp.messages
    payload = mail.get_payload(decode=True)
    assert isinstance(payload, bytes)
    return payload.decode().replace("\r\n", "\n")  # as SMTP carried it: CRLF line ends


async def test_a_draft_made_before_smtp_was_set_up_is_signed_when_sent(env: dict[str, str], smtp: Smtp) -> None:
    unset = {k: v for k, v in env.items() if k not in ("DEPUTY_SMTP_URL", "DEPUTY_EMAIL_FROM")}
    drafting = build_runtime(settings_from(unset), env["REDIS_URL"])
    try:
        draft = await drafting.drafter.draft(task("email jane@acme.com a follow-up on invoice 42"))
    finally:
        await drafting.close()
    assert isinstance(draft, ProposalDraft)
    [(_, fields)] = draft.actions
    assert fields["body"].endswith("Best regards,")  # no sender was configured: no name to sign with
    connector = EmailConnector(smtp.url, SENDER)
    await connector.apply(connector.validate(fields), "p1:0")
    assert sent_body(smtp).endswith("Please let me know if you have any questions.\n\nBest regards,\nSam Operator\n")


@pytest.mark.parametrize(
    ("body", "sender", "sent"),
    [
        ("Hi Jane\n\nThanks,\n", SENDER, "Hi Jane\n\nThanks,\nSam Operator\n"),
        ("Hi Jane\n\nKind regards, \n\n", SENDER, "Hi Jane\n\nKind regards,\nSam Operator\n"),
        ("Hi Jane\n\nBest regards,\nSam Operator\n", SENDER, "Hi Jane\n\nBest regards,\nSam Operator\n"),
        ("Hi Jane\n\nBest regards,\nSam\n", SENDER, "Hi Jane\n\nBest regards,\nSam\n"),
        ("Hi Jane\n\nBest regards,\n", "sam@example.com", "Hi Jane\n\nBest regards,\n"),
        ("Hi Jane, see you at 3.\n", SENDER, "Hi Jane, see you at 3.\n"),
    ],
)
async def test_a_name_is_added_under_a_bare_sign_off_only(smtp: Smtp, body: str, sender: str, sent: str) -> None:
    connector = EmailConnector(smtp.url, sender)
    await connector.apply(connector.validate({**FIELDS, "body": body}), "p1:0")
    assert sent_body(smtp) == sent
