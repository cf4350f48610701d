"""One SMTP connection per worker: a connector keeps its connection between sends, and one the server closed
while it sat idle is opened again — before the hand-over nothing was handed over, so the email goes once, on the
new connection (issue 30). Against a real SMTP server (aiosmtpd)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from connectors.email import EmailConnector
from memory.embedded import free_port
from tests.conftest import SENDER, Smtp, eventually

FIELDS = {"to": "jane@acme.com", "subject": "Invoice 42", "body": "Hi Jane"}


@dataclass
class Peers(Smtp):
    """The sink, noting which connection each message came on, and able to hang up after answering one."""

    peers: list[Any] = field(default_factory=list)
    hang_up: bool = False
    closed: bool = False

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.peers.append(session.peer)
        if self.hang_up:
            asyncio.get_running_loop().call_later(0.01, self._close, server)
        return await super().handle_DATA(server, session, envelope)

    def _close(self, server: Any) -> None:
        server.transport.close()
        self.closed = True


@pytest.fixture
def peers() -> Iterator[Peers]:
    sink = Peers(free_port())
    controller = Controller(sink, hostname="127.0.0.1", port=sink.port)
    controller.start()
    yield sink
    controller.stop()


async def send(connector: EmailConnector, key: str, handed: list[str]) -> str:
    async def handing_over() -> None:
        handed.append(key)

    return await connector.apply(connector.validate(FIELDS), key, handing_over)


async def test_sends_share_one_connection(peers: Peers) -> None:
    connector, handed = EmailConnector(peers.url, SENDER), list[str]()
    for key in ("p1:0", "p2:0", "p3:0"):
        assert await send(connector, key, handed) == "Sent to jane@acme.com"
    assert len(peers.messages) == 3 and handed == ["p1:0", "p2:0", "p3:0"]
    assert len(set(map(tuple, peers.peers))) == 1


async def test_a_connection_the_server_closed_is_opened_again_and_the_email_goes_once(peers: Peers) -> None:
    peers.hang_up = True
    connector, handed = EmailConnector(peers.url, SENDER), list[str]()
    await send(connector, "p1:0", handed)
    await eventually(lambda: peers.closed, 5, "the server hanging up the idle connection")
    peers.hang_up = False
    assert await send(connector, "p2:0", handed) == "Sent to jane@acme.com"
    assert [m["Message-ID"].split(".")[1] for m in peers.messages] == ["p1", "p2"]
    assert handed == ["p1:0", "p2:0"] and peers.peers[0] != peers.peers[1]
