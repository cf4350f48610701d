"""A real IMAP server for tests: pymap's in-memory (dict) backend as its own process on loopback, with one user.
Chosen over Dovecot because it is on PyPI (CI has only Python) and has IDLE; its mailbox lives in the process, so
a restart empties it and starts a new UIDVALIDITY — the test of a UIDVALIDITY change re-appends the same mail.
Where Dovecot is installed, `DovecotServer` runs it the same way, unprivileged: tests/e2e/test_inbox_dovecot.py
runs the inbox's main tests against it, and `bench/inbox.py --server dovecot` the benchmark."""

from __future__ import annotations

import contextlib
import grp
import itertools
import os
import pwd
import shutil
import socket
import subprocess
import sys
import tempfile
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
        self._listening()

    def _listening(self) -> None:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError):
                socket.create_connection(("127.0.0.1", self.port), 0.5).close()
                return
            time.sleep(0.05)
        raise AssertionError(f"the IMAP server did not start on port {self.port}")

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


DOVECOT = shutil.which("dovecot", path=f"{os.environ.get('PATH', '')}:/usr/sbin")
"""Dovecot, where installed (Debian's `dovecot-imapd`): the same tests and bench against a production server."""
DOVECOT_CONF = """base_dir = {dir}/run
state_dir = {dir}/state
log_path = {dir}/dovecot.log
instance_name = deputy-test-{port}
protocols = imap
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
default_login_user = {user}
default_internal_user = {user}
default_internal_group = {group}
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {dir}/users
}}
userdb {{
  driver = static
  args = uid={uid} gid={gid} home={dir}/home/%u
}}
mail_location = maildir:~/Maildir
namespace inbox {{
  inbox = yes
  separator = /
}}
service imap-login {{
  chroot =
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
service anvil {{
  chroot =
}}
service stats {{
  chroot =
}}
"""


class DovecotServer(ImapServer):
    """Dovecot as its own process, unprivileged, with its mail in a temporary directory (as root: run as
    `nobody`). Unlike pymap it keeps its mail across a restart, under the same UIDVALIDITY; and it tells an IDLE
    of new mail half a second after it came (its NOTIFY_DELAY_MSECS), where pymap tells at once."""

    directory: Path | None = None
    """Its mail and state, kept across a restart, removed with `running`'s end."""

    def start(self) -> None:
        assert DOVECOT, "Dovecot is not installed"
        root = os.geteuid() == 0
        who = pwd.getpwnam("nobody") if root else pwd.getpwuid(os.getuid())
        directory = self.directory = self.directory or Path(tempfile.mkdtemp(prefix="deputy-dovecot-"))
        group = grp.getgrgid(who.pw_gid).gr_name
        conf = DOVECOT_CONF.format(
            dir=directory, port=self.port, user=who.pw_name, group=group, uid=who.pw_uid, gid=who.pw_gid
        )
        (directory / "dovecot.conf").write_text(conf)
        (directory / "users").write_text(f"{USER}:{{PLAIN}}{PASSWORD}\n")
        for path in [directory, *directory.iterdir()]:
            os.chown(path, who.pw_uid, who.pw_gid)
        prefix = ["runuser", "-u", who.pw_name, "--"] if root else []
        args = [*prefix, str(DOVECOT), "-F", "-c", str(directory / "dovecot.conf")]
        self.process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self._listening()


@contextlib.contextmanager
def running(kind: str = "pymap") -> Iterator[ImapServer]:
    server = DovecotServer() if kind == "dovecot" else ImapServer()
    server.start()
    try:
        yield server
    finally:
        server.stop()
        if isinstance(server, DovecotServer) and server.directory:
            shutil.rmtree(server.directory, ignore_errors=True)


FOLDERS = itertools.count(1)


async def new_folder(server: ImapServer, *beside: str) -> str:
    """A folder of its own for one test (a module shares one server), and the `beside` ones (Sent, Archive) that
    the module's tests share."""
    name = f"F{next(FOLDERS)}"
    await server.create(name, *beside)
    return name
