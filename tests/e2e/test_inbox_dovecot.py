"""The inbox's main tests again, against Dovecot where it is installed (Debian's `dovecot-imapd`; skipped where it
isn't, as on a CI machine with only Python): a production server, where pymap is a Python one. Its differences
that matter here: it tells an IDLE of new mail half a second after it came, and of mail that came between a
search and the IDLE too; its UIDs start at 1; it keeps its mail and UIDVALIDITY across a restart."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.e2e.test_inbox import (  # noqa: F401 (collected here, with their fixtures)
    deputy_with_inbox,
    folder,
    test_a_clients_email_is_answered_in_its_thread_once,
    test_a_worker_killed_between_sending_and_filing_is_flagged_and_a_resend_files_one_copy,
    test_mail_that_comes_right_after_an_idle_ended_by_a_flag_is_found_in_seconds,
    test_mail_that_needs_no_reply_is_recorded_once_and_starts_nothing,
)
from tests.e2e.test_inbox_recovery import test_two_deputys_and_a_restart_take_a_backlog_once  # noqa: F401
from tests.imap_server import DOVECOT, ImapServer, running

pytestmark = pytest.mark.skipif(DOVECOT is None, reason="Dovecot is not installed (Debian: dovecot-imapd)")


@pytest.fixture(scope="module")
def imap_server() -> Iterator[ImapServer]:
    """This module's server: Dovecot, in place of the suite's pymap."""
    with running("dovecot") as server:
        yield server
