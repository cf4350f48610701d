"""A real IMAP server for tests: pymap's in-memory (dict) backend as its own process on loopback, with one user.
Chosen over Dovecot because it is on PyPI (CI has only Python) and has IDLE; its mailbox lives in the process, so
a restart empties it and starts a new UIDVALIDITY — the test of a UIDVALIDITY change re-appends the same mail."""

from __future__ import annotations

import contextlib
import itertools
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from email.message import EmailMessage
from email.utils import formatdate
from pathlib import Path

import aioimaplib

from memory.embedded import free_port

USER, PASSWORD = "deputy@example.com", "s3cret-imap"
PYMAP = Path(sys.executable).parent / "pymap"


class ImapServer:
    def __init__(self) -> None:
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    def url(self, folder: str = "INBOX") -> str:
        return f"imap://{USER.replace('@', '%40')}:{PASSWORD}@127.0.0.1:{self.port}/{folder}"

    def start(self) -> None:
        args = [str(PYMAP), "--no-service", "admin", "--host", "127.0.0.1", "--port", str(self.port), "--no-tls"]
        args += ["dict", "--demo-user", USER, "--demo-password", PASSWORD]
        self.process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError):
                socket.create_connection(("127.0.0.1", self.port), 0.5).close()
                return
            time.sleep(0.05)
        raise AssertionError("pymap did not start")

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(10)
            self.process = None

    def restart(self) -> None:
        self.stop()
        self.start()

    async def client(self) -> aioimaplib.IMAP4:
        client = aioimaplib.IMAP4(host="127.0.0.1", port=self.port, timeout=10)
        await client.wait_hello_from_server()
        await client.login(USER, PASSWORD)
        return client

    async def append(self, raw: bytes, folder: str = "INBOX") -> None:
        client = await self.client()
        try:
            response = await client.append(raw, mailbox=folder)
            assert response.result == "OK", response
        finally:
            await client.logout()

    async def append_many(self, raws: list[bytes], folder: str) -> None:
        client = await self.client()
        try:
            for raw in raws:
                response = await client.append(raw, mailbox=folder)
                assert response.result == "OK", response
        finally:
            await client.logout()

    async def create(self, *folders: str) -> None:
        client = await self.client()
        try:
            for folder in folders:
                await client.create(folder)
        finally:
            await client.logout()

    async def flag(self, folder: str, flag: str, on: bool = True) -> None:
        """Set (or clear) `flag` on every message in `folder`, from a connection of its own, as a worker marks
        one answered. (pymap tells an IDLE of system flags such as \\Flagged, not of keywords.)"""
        client = await self.client()
        try:
            await client.select(folder)
            response = await client.uid("store", "1:*", "+FLAGS" if on else "-FLAGS", f"({flag})")
            assert response.result == "OK", response
        finally:
            await client.logout()

    async def messages(self, folder: str) -> list[tuple[str, bytes]]:
        """(flags, header bytes) of every message in `folder`."""
        client = await self.client()
        try:
            await client.select(folder)
            response = await client.uid("fetch", "1:*", "(FLAGS BODY.PEEK[HEADER])")
        finally:
            await client.logout()
        found: list[tuple[str, bytes]] = []
        lines = response.lines
        for i, line in enumerate(lines):
            if isinstance(line, bytes) and b"FETCH" in line and i + 1 < len(lines):
                found.append((line.decode(errors="replace"), bytes(lines[i + 1])))
        return found


def email(
    *,
    sender: str = "Jane Client <jane@acme.example>",
    to: str = USER,
    cc: str = "",
    subject: str = "Invoice 42",
    body: str = "Hi, could you send me the corrected invoice by Friday?",
    message_id: str = "<m1@acme.example>",
    references: str = "",
    extra: dict[str, str] | None = None,
) -> bytes:
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = sender, to, subject
    if cc:
        message["Cc"] = cc
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = message_id
    if references:
        message["References"] = references
        message["In-Reply-To"] = references.split()[-1]
    for name, value in (extra or {}).items():
        message[name] = value
    message.set_content(body)
    return message.as_bytes()


@contextlib.contextmanager
def running() -> Iterator[ImapServer]:
    server = ImapServer()
    server.start()
    try:
        yield server
    finally:
        server.stop()


FOLDERS = itertools.count(1)


async def new_folder(server: ImapServer, *beside: str) -> str:
    """A folder of its own for one test (a module shares one server), and the `beside` ones (Sent, Archive) that
    the module's tests share."""
    name = f"F{next(FOLDERS)}"
    await server.create(name, *beside)
    return name
