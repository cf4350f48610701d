"""A real CalDAV server for the tests: Radicale (from PyPI) on a free loopback port, its storage in a temporary
directory, logins checked against a plain htpasswd file. One per test module (`radicale` fixture, module scope);
each test gets a fresh calendar collection of its own (`calendar`), so tests don't see each other's events."""

from __future__ import annotations

import base64
import itertools
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pytest

from connectors.caldav_store import CalDav
from memory.embedded import free_port
from orchestrator.agenda import Entry
from tests.conftest import wait_for

USER, PASSWORD = "sam", "p@ss:w/rd"
"""A password with characters that must be escaped in a URL: the connector's parsing is exercised too."""
QUOTED = "p%40ss%3Aw%2Frd"
_COUNT = itertools.count(1)


class Radicale:
    def __init__(self, directory: Path) -> None:
        self.directory, self.port = directory, free_port()
        self.process: subprocess.Popen[bytes] | None = None
        (directory / "users").write_text(f"{USER}:{PASSWORD}\n")

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        args = [
            *("--storage-filesystem-folder", str(self.directory / "store")),
            *("--server-hosts", f"127.0.0.1:{self.port}"),
            *("--auth-type", "htpasswd", "--auth-htpasswd-filename", str(self.directory / "users")),
            *("--auth-htpasswd-encryption", "plain", "--logging-level", "error"),
        ]
        log = open(self.directory / "radicale.log", "ab")  # noqa: SIM115 (the process holds it)
        self.process = subprocess.Popen([sys.executable, "-m", "radicale", *args], stdout=log, stderr=log)
        wait_for(self.answers, 20, "Radicale to answer")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(10)
        self.process = None

    def answers(self) -> bool:
        try:
            urllib.request.urlopen(f"{self.base}/.web/", timeout=1).close()
        except urllib.error.HTTPError:
            return True
        except OSError:
            return False
        return True

    def new_calendar(self) -> str:
        """A fresh, empty calendar collection; its URL with the login in it (as DEPUTY_CALDAV_URL holds it)."""
        path = f"/{USER}/calendar-{next(_COUNT)}/"
        request = urllib.request.Request(f"{self.base}{path}", method="MKCALENDAR")
        opener = urllib.request.build_opener(_Preemptive())
        opener.open(request, timeout=10).close()
        return f"http://{USER}:{QUOTED}@127.0.0.1:{self.port}{path}"


class _Preemptive(urllib.request.BaseHandler):
    """Basic auth on the first request (Radicale answers MKCALENDAR without a login with 401 and no retry)."""

    def http_request(self, request: urllib.request.Request) -> urllib.request.Request:
        token = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
        request.add_unredirected_header("Authorization", f"Basic {token}")
        return request


@dataclass
class Calendar:
    """One test's calendar: its URL (login included) and a reader to look at what is on it."""

    url: str
    zone: str = "UTC"

    @property
    def dav(self) -> CalDav:
        return CalDav(self.url, self.zone)

    async def events(self, start: datetime, end: datetime) -> list[Entry]:
        return await self.dav.between(start, end)


@pytest.fixture(scope="module")
def radicale(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Radicale]:
    server = Radicale(tmp_path_factory.mktemp("radicale"))
    server.start()
    yield server
    server.stop()


@pytest.fixture
def calendar(radicale: Radicale) -> Calendar:
    if radicale.process is None or radicale.process.poll() is not None:
        radicale.start()  # a test that stopped it to see Deputy ride out an outage
    return Calendar(radicale.new_calendar())
