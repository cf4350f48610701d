"""A job that can't be interrupted at its timeout: it ignores the alarm RQ sets, so only killing its
process ends it (tests/e2e/test_faults.py)."""

from __future__ import annotations

import signal
import time


def sleep_through_alarms() -> None:
    signal.signal(signal.SIGALRM, signal.SIG_IGN)
    time.sleep(120)
