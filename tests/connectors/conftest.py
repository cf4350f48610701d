"""Fixtures the connector tests share: a real CalDAV server (tests/radicale.py)."""

from tests.radicale import calendar, radicale

__all__ = ["calendar", "radicale"]
