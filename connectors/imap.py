"""The IMAP side of the inbox, shared by the source that reads it (bot/sources/inbox.py), the reply connector
that appends to Sent and flags \\Answered (connectors/email_reply.py) and `deputy doctor`. Not a connector
module itself (no `build`): the registry skips it.

aioimaplib, not imapclient in a thread: Deputy is async only, and aioimaplib has IDLE as awaitables. Its
`idle_start` can hang when the server drops the connection instead of answering (aioimaplib#110), so every call
here runs under a deadline and the connection's loss is an event the IDLE wait also listens for."""

from __future__ import annotations

import asyncio
import contextlib
import re
import ssl
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from enum import Enum
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import aioimaplib

from orchestrator.errors import ConnectorError
from orchestrator.kinds import Check
from orchestrator.text import masked

CALL_S = 30.0
"""Any one IMAP command at most this long: a server that stops answering fails the call, not the loop."""
IDLE_RENEW_S = 120.0
"""IDLE is ended and issued again this often, and the folder searched: well within the 29 minutes RFC 2177
allows, sooner than most NATs forget a quiet connection, and a bound on how late mail is seen whose notice was
lost (aioimaplib can drop an EXISTS that arrives with IDLE's continuation, aioimaplib#27)."""
POLL_S = 30.0
"""Without IDLE (or when it fails), the folder is checked this often."""
_UIDVALIDITY = re.compile(rb"UIDVALIDITY (\d+)")
_FETCH_UID = re.compile(rb"UID (\d+)")
_FETCH_START = re.compile(rb"^(?:\* )?\d+ FETCH \(")
_SIZE = re.compile(rb"RFC822\.SIZE (\d+)")
_EXISTS = re.compile(rb"(?:\* )?\d+ EXISTS\b")
_SINCE = re.compile(r"^\s*(\d+)\s*([dhw])\s*$", re.I)
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


TIME_UP = aioimaplib.STOP_WAIT_SERVER_PUSH
"""What aioimaplib puts among the server's pushes when an IDLE's time is up: not the server's word."""


class Idled(Enum):
    """How an IDLE ended."""

    NEWS = "news"
    """The folder grew (`* n EXISTS`)."""
    CHANGE = "change"
    """The server said something else changed (a flag set from another connection), which ended it early."""
    QUIET = "quiet"
    """Its time passed with nothing said."""


class ImapError(ConnectorError):
    """The server refused a command, or the connection was lost or timed out."""


@dataclass(frozen=True)
class ImapTarget:
    host: str
    port: int
    user: str
    password: str
    tls: bool
    starttls: bool
    folders: tuple[str, ...]

    @classmethod
    def parse(cls, url: str) -> ImapTarget:
        """`imaps://user:password@host:993/INBOX,Clients` (`imap://…?starttls=1`): a comma list of folders."""
        parts = urlsplit(url)
        tls = parts.scheme == "imaps"
        folders = tuple(unquote(f).strip() for f in parts.path.lstrip("/").split(",") if f.strip())
        return cls(
            host=parts.hostname or "localhost",
            port=parts.port or (993 if tls else 143),
            user=unquote(parts.username or ""),
            password=unquote(parts.password or ""),
            tls=tls,
            starttls=parse_qs(parts.query).get("starttls", ["0"])[0] in ("1", "true", "yes"),
            folders=folders or ("INBOX",),
        )

    @property
    def where(self) -> str:
        """Host and port, never the credentials: what logs, cards and doctor show."""
        return f"{self.host}:{self.port}"


def since_date(setting: str, now: datetime | None = None) -> date:
    """DEPUTY_IMAP_SINCE (`3d`, `12h`, `2w` or `2026-12-01`) as the day IMAP's SINCE takes."""
    found = _SINCE.match(setting)
    now = now or datetime.now(UTC)
    if found:
        unit = {"d": "days", "h": "hours", "w": "weeks"}[found[2].lower()]
        return (now - timedelta(**{unit: int(found[1])})).date()
    return date.fromisoformat(setting.strip())


def imap_date(day: date | str) -> str:
    """`06-Dec-2026`, from a date or its ISO form."""
    day = date.fromisoformat(day) if isinstance(day, str) else day
    return f"{day.day:02d}-{MONTHS[day.month - 1]}-{day.year}"


def quoted(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


class Session:
    """One logged-in connection. `lost` is set when the server closes it (a BYE, a dropped socket)."""

    def __init__(self, client: aioimaplib.IMAP4, lost: asyncio.Event) -> None:
        self.client, self.lost = client, lost
        self.ending: Any = None
        """IDLE's end, not yet answered, when news cut it short: the next command goes out behind the DONE."""
        self.announced = False
        """The server said the folder grew (`* n EXISTS`). It tells of new mail once, in the answer to whatever
        command runs when it arrives (a SEARCH that already missed it, a FETCH), and IDLE won't tell again."""
        self._heed(client.protocol)

    def _heed(self, protocol: Any) -> None:
        """aioimaplib drops untagged lines that arrive with an async command's answer (SEARCH, NOOP aside): the
        news that mail arrived would be lost, so every untagged line is looked at on its way in. Its private
        `_untagged_response` is wrapped, not replaced; tests/connectors/test_imap_session.py holds it to that."""
        untagged = protocol._untagged_response

        def heard(line: bytes) -> Any:
            if _EXISTS.match(line):
                self.announced = True
            return untagged(line)

        protocol._untagged_response = heard

    @classmethod
    async def open(cls, target: ImapTarget) -> Session:
        lost = asyncio.Event()
        context = ssl.create_default_context() if target.tls else None
        maker = aioimaplib.IMAP4_SSL if target.tls else aioimaplib.IMAP4
        kwargs: dict[str, Any] = {"ssl_context": context} if context else {}
        try:
            client = maker(
                host=target.host, port=target.port, timeout=CALL_S, conn_lost_cb=lambda _: lost.set(), **kwargs
            )
            await asyncio.wait_for(client._client_task, CALL_S)  # refused: at once, not after the hello's timeout
            await asyncio.wait_for(client.wait_hello_from_server(), CALL_S)
        except (OSError, TimeoutError, aioimaplib.AioImapException) as err:
            raise ImapError(f"can't reach the IMAP server {target.where}: {err or type(err).__name__}") from err
        session = cls(client, lost)
        if target.starttls:
            await session.starttls(target)
        await session.login(target)
        return session

    async def starttls(self, target: ImapTarget) -> None:
        """aioimaplib has no STARTTLS of its own: ask for it, then upgrade the transport in place."""
        await self.ok("STARTTLS", self.client.protocol.simple_command("STARTTLS"))
        loop = asyncio.get_running_loop()
        transport = self.client.protocol.transport
        new = await loop.start_tls(
            transport, self.client.protocol, ssl.create_default_context(), server_hostname=target.host
        )
        self.client.protocol.transport = new

    async def login(self, target: ImapTarget) -> None:
        response = await self.call(self.client.login(target.user, target.password))
        if response.result != "OK":
            raise ImapError(f"IMAP login to {target.where} was refused: check the user and password in DEPUTY_IMAP_URL")

    async def call(self, step: Any, limit_s: float = CALL_S) -> Any:
        ending, self.ending = self.ending, None
        try:
            if ending is not None:
                await self._unless_lost(ending, limit_s)
        except BaseException:
            if asyncio.iscoroutine(step):
                step.close()  # never begun: what failed is the connection, not this command
            raise
        return await self._unless_lost(step, limit_s)

    async def _unless_lost(self, step: Any, limit_s: float) -> Any:
        """The step's answer; an error at once when the connection is lost: aioimaplib leaves a command that was
        sent before waiting for good (and IDLE's end after a DONE), so a dropped server cost a whole deadline."""
        job, lost = asyncio.ensure_future(step), asyncio.ensure_future(self.lost.wait())
        try:
            done, _ = await asyncio.wait({job, lost}, timeout=limit_s, return_when=asyncio.FIRST_COMPLETED)
            if job in done:
                return job.result()
            said = "the IMAP server closed the connection" if self.lost.is_set() else "TimeoutError"
            raise ImapError(f"the IMAP connection failed: {said}")
        except (OSError, TimeoutError, aioimaplib.AioImapException) as err:
            raise ImapError(f"the IMAP connection failed: {masked(str(err)) or type(err).__name__}") from err
        finally:
            lost.cancel()
            job.cancel()

    async def ok(self, what: str, step: Any, limit_s: float = CALL_S) -> list[Any]:
        response = await self.call(step, limit_s)
        if response.result != "OK":
            said = b" ".join(x for x in response.lines if isinstance(x, bytes)).decode(errors="replace")[:200]
            raise ImapError(f"IMAP {what} refused: {said}")
        return list(response.lines)

    def has(self, capability: str) -> bool:
        return bool(self.client.has_capability(capability))

    async def examine(self, folder: str) -> int:
        """Open the folder read-only (EXAMINE: nothing Deputy does while reading can change a flag); its
        UIDVALIDITY."""
        lines = await self.ok(f"EXAMINE {folder}", self.client.examine(quoted(folder)))
        self.client.protocol.state = aioimaplib.SELECTED  # aioimaplib's examine forgets to say so (its select does)
        self.announced = False  # its `* n EXISTS` is the folder as it is, not news
        found = next((m for line in lines if isinstance(line, bytes) and (m := _UIDVALIDITY.search(line))), None)
        if found is None:
            raise ImapError(f"the IMAP server gave no UIDVALIDITY for {folder}")
        return int(found[1])

    async def uids(self, *criteria: str) -> list[int]:
        lines = await self.ok("UID SEARCH", self.client.uid_search(*criteria, charset=None))
        words = b" ".join(x for x in lines[:-1] if isinstance(x, bytes)).split()
        return sorted(int(w) for w in words if w.isdigit())

    async def fetch_range(self, first: int, last: int, limit: int) -> list[tuple[int, bytes, int]]:
        """Each message with a UID from `first` to `last` (none there: an empty list), read with BODY.PEEK (it
        stays unread): its UID, its first `limit` bytes and its whole size, in UID order. One round trip, no search
        first; a second only for a message cut at `limit`, whose size is then asked for (`RFC822.SIZE` costs some
        servers a parse of the whole message, and a body shorter than `limit` is the whole message)."""
        return await self._fetch(f"{first}:{last}", lambda uid: first <= uid <= last, limit)

    async def fetch_many(self, uids: Sequence[int], limit: int) -> list[tuple[int, bytes, int]]:
        """Those of these UIDs still in the folder, as `fetch_range` reads them, in one round trip: a catch-up
        reads its backlog a batch at a time, not an email per round trip."""
        wanted = set(uids)
        if not wanted:
            return []
        return await self._fetch(",".join(str(uid) for uid in sorted(wanted)), wanted.__contains__, limit)

    async def _fetch(self, uids: str, wanted: Callable[[int], bool], limit: int) -> list[tuple[int, bytes, int]]:
        parts = f"(UID BODY.PEEK[]<0.{limit}>)"
        step = self._behind_idle(uids, parts) if self.ending is not None else self.client.uid("fetch", uids, parts)
        lines = await self.ok("UID FETCH", step, CALL_S * 2)
        found = sorted(m for m in _messages(lines) if wanted(m[0]))  # a server may add a message it wasn't asked for
        return [(uid, body, len(body) if len(body) < limit else await self._size(uid)) for uid, body, _ in found]

    async def _size(self, uid: int) -> int:
        lines = await self.ok("UID FETCH", self.client.uid("fetch", str(uid), "(UID RFC822.SIZE)"))
        return next((int(m[1]) for x in lines if isinstance(x, bytes) and (m := _SIZE.search(x))), 0)

    def _behind_idle(self, uids: str, parts: str) -> Any:
        """A UID FETCH sent at once, right behind IDLE's DONE, not after the server's answer to it: IMAP lets a
        client pipeline commands, aioimaplib would wait for that answer first (a round trip more before the card).
        The server answers in order: IDLE's end, then this."""
        protocol = self.client.protocol
        command = aioimaplib.FetchCommand(protocol.new_tag(), uids, parts, prefix="UID", loop=protocol.loop)
        protocol.pending_async_commands[command.untagged_resp_name] = command
        protocol.send(str(command))
        return _answer(command)

    async def list_folders(self) -> list[str]:
        lines = await self.ok("LIST", self.client.list('""', "*"))
        return [_folder_name(x) for x in lines[:-1] if isinstance(x, bytes) and x.startswith(b"(")]

    async def idle(self, renew_s: float = IDLE_RENEW_S) -> Idled:
        """Wait in IDLE until the server says something changed or `renew_s` passed; then end it. A connection
        lost meanwhile raises."""
        queue = self.client.protocol.idle_queue
        while not queue.empty():  # a previous IDLE's leftovers (its time-up word, a line after its end): not news
            queue.get_nowait()
        idle = await self.call(self.client.idle_start(timeout=renew_s))
        push = asyncio.ensure_future(self.client.wait_server_push(timeout=renew_s + 5))
        lost = asyncio.ensure_future(self.lost.wait())
        done, _ = await asyncio.wait({push, lost}, timeout=renew_s + 10, return_when=asyncio.FIRST_COMPLETED)
        lost.cancel()
        if push not in done:
            push.cancel()
        if self.lost.is_set():
            raise ImapError("the IMAP server closed the connection")
        pushed = push.result() if push in done and not push.cancelled() and push.exception() is None else []
        said = [line for line in _lines(pushed) if line not in TIME_UP]
        if self.client.has_pending_idle():
            self.client.idle_done()
        if _news(said):  # its end is awaited by the next command, which needn't wait for it to go out
            self.ending = idle
            return Idled.NEWS
        ended = await self.call(idle)
        if _news(getattr(ended, "lines", [])):
            return Idled.NEWS
        return Idled.CHANGE if said else Idled.QUIET

    async def close(self) -> None:
        """Hang up without LOGOUT: a LOGOUT queued behind a command a stop cancelled (an IDLE, a FETCH) can wait
        on aioimaplib's pending command for good; servers take a closed connection as the end of the session."""
        with contextlib.suppress(Exception):
            self.client.protocol.transport.close()
        for task in list(self.client.tasks):
            task.cancel()


def _messages(lines: list[Any]) -> list[tuple[int, bytes, int]]:
    """A FETCH answer's messages: each starts with its `n FETCH (` line; its UID and size may come before or after
    its body (the literal). An unsolicited FETCH (flags) has no body and is left out."""
    found: list[dict[str, Any]] = []
    for line in lines:
        if isinstance(line, bytearray):
            if found:
                found[-1]["body"] = bytes(line)
            continue
        if not isinstance(line, bytes):
            continue
        if _FETCH_START.match(line):
            found.append({"size": 0})
        if found and (uid := _FETCH_UID.search(line)):
            found[-1]["uid"] = int(uid[1])
        if found and (size := _SIZE.search(line)):
            found[-1]["size"] = int(size[1])
    return [(m["uid"], m["body"], m["size"]) for m in found if "uid" in m and "body" in m]


async def _answer(command: Any) -> Any:
    await command.wait()
    return command.response


def _news(lines: list[Any]) -> bool:
    return any(isinstance(x, bytes) and (b"EXISTS" in x or b"RECENT" in x) for x in lines)


def _lines(said: Any) -> list[Any]:
    return list(said) if isinstance(said, list) else []


def _folder_name(line: bytes) -> str:
    name = line.rsplit(b'" ', 1)[-1].strip().strip(b'"') if b'" ' in line else line.split()[-1]
    return name.decode(errors="replace")


async def doctor(url: str) -> list[Check]:
    """Log in, find each configured folder and whether the server offers IDLE; nothing is read or changed."""
    target = ImapTarget.parse(url)
    try:
        session = await Session.open(target)
    except ImapError as err:
        return [Check("Inbox", False, f"{err}; check DEPUTY_IMAP_URL")]
    try:
        folders = await session.list_folders()
        idle = session.has("IDLE")
    except ImapError as err:
        return [Check("Inbox", False, f"{err}; check DEPUTY_IMAP_URL")]
    finally:
        await session.close()
    missing = [f for f in target.folders if f not in folders]
    checks = [Check("Inbox", not missing, _folders_line(target, missing))]
    how = "IDLE: new mail shows at once" if idle else f"no IDLE on this server: checked every {POLL_S:.0f} s"
    return [*checks, Check("Inbox IDLE", True, how, info=not idle)]


def _folders_line(target: ImapTarget, missing: list[str]) -> str:
    if missing:
        return f"logged in at {target.where}, but no folder {', '.join(missing)}: fix the path of DEPUTY_IMAP_URL"
    return f"logged in at {target.where} as {target.user}; watching {', '.join(target.folders)}"
