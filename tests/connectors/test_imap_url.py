"""DEPUTY_IMAP_URL and DEPUTY_IMAP_SINCE as users write them, and the mistakes Deputy refuses at start."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from pydantic import ValidationError

from config.settings import describe, settings_with
from connectors.imap import ImapTarget, imap_date, since_date
from orchestrator.text import masked


def test_the_url_gives_host_port_tls_user_and_folders() -> None:
    target = ImapTarget.parse("imaps://me%40example.com:p%40ss@imap.example.com/INBOX,Clients,Sent%20Items")
    assert (target.host, target.port, target.tls, target.starttls) == ("imap.example.com", 993, True, False)
    assert (target.user, target.password) == ("me@example.com", "p@ss")
    assert target.folders == ("INBOX", "Clients", "Sent Items") and target.where == "imap.example.com:993"
    plain = ImapTarget.parse("imap://u:p@h/?starttls=1")
    assert (plain.port, plain.tls, plain.starttls, plain.folders) == (143, False, True, ("INBOX",))


def test_since_takes_days_hours_weeks_or_a_date() -> None:
    now = datetime(2026, 12, 6, 12, tzinfo=UTC)
    assert since_date("3d", now) == date(2026, 12, 3) and since_date("2w", now) == date(2026, 11, 22)
    assert since_date("36h", now) == date(2026, 12, 5) and since_date("2026-12-01", now) == date(2026, 12, 1)
    assert imap_date(date(2026, 12, 1)) == "01-Dec-2026" and imap_date("2026-03-09") == "09-Mar-2026"


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("DEPUTY_IMAP_URL", "https://u:hunter2@h/INBOX"),
        ("DEPUTY_IMAP_URL", "imaps://u:hunter2@h:99999/INBOX"),
        ("DEPUTY_IMAP_SINCE", "last week"),
    ],
)
def test_a_wrong_setting_is_refused_without_showing_the_password(name: str, value: str) -> None:
    with pytest.raises(ValidationError) as refused:
        settings_with({name: value})
    said = describe(refused.value)  # the one line Deputy prints before it exits 2
    assert said.startswith(f"configuration error: {name}: ") and "hunter2" not in said


def test_the_password_is_masked_wherever_the_url_is_quoted() -> None:
    assert masked("can't reach imaps://me:hunter2@h:993/INBOX") == "can't reach imaps://***@h:993/INBOX"
