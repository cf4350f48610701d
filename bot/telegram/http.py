"""python-telegram-bot's transport over aiohttp: PTB stays the client (its methods, `RequestData`, and
`BaseRequest.post`'s mapping of answers to `RetryAfter`, `Forbidden`, `BadRequest`, `NetworkError`…), only the HTTP
hop changes. The default `HTTPXRequest` spent about 1 ms of CPU per post (0.4 ms here), on the loop that also
answers Telegram's webhook (issue 30); aiohttp is already Deputy's HTTP client and server. Requests are
form-encoded as HTTPXRequest sends them (multipart when a file goes along); certificates and proxies as httpx
finds them (`SSL_CERT_FILE` or certifi's bundle; `HTTPS_PROXY`, `NO_PROXY`)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import aiohttp
from telegram._utils.defaultvalue import DefaultValue
from telegram._utils.types import ODVInput
from telegram.error import NetworkError, TimedOut
from telegram.request import BaseRequest, RequestData
from yarl import URL

from connectors import http_env

POOL_FULL = (
    "Pool timeout: All connections in the connection pool are occupied. Request was *not* sent to Telegram. "
    "Consider adjusting the connection pool size or the pool timeout."
)
FORM = {"Content-Type": "application/x-www-form-urlencoded"}


@dataclass(frozen=True)
class Timeouts:
    """Seconds, None for no limit, as PTB names them."""

    read: float | None = 5.0
    write: float | None = 5.0
    connect: float | None = 5.0
    pool: float | None = 1.0

    def given(
        self, read: ODVInput[float], write: ODVInput[float], connect: ODVInput[float], pool: ODVInput[float]
    ) -> Timeouts:
        """A call's own timeouts; those it leaves at PTB's `DEFAULT_NONE` are this request's defaults."""
        return Timeouts(_or(read, self.read), _or(write, self.write), _or(connect, self.connect), _or(pool, self.pool))

    def client(self) -> aiohttp.ClientTimeout:
        """aiohttp has no write timeout of its own: the write timeout bounds the whole request together with the
        others (connect + write + read), so a request that stalls while it is sent still ends."""
        parts = (self.connect, self.write, self.read)
        total = None if None in parts else sum(p for p in parts if p is not None)
        return aiohttp.ClientTimeout(total=total, sock_connect=self.connect, sock_read=self.read)


def _or(value: ODVInput[float], default: float | None) -> float | None:
    return default if isinstance(value, DefaultValue) else value


class AiohttpRequest(BaseRequest):
    """One aiohttp session, made in the loop that first uses it (a job's bot is never `initialize()`d), with at
    most `pool_size` requests in flight; a request that waits longer than the pool timeout for a turn is `TimedOut`
    unsent, as with HTTPXRequest."""

    def __init__(
        self, *, pool_size: int = 16, timeouts: Timeouts = Timeouts(), media_write_s: float | None = 20.0
    ) -> None:
        self.timeouts, self.media_write_s = timeouts, media_write_s
        self._pool_size = pool_size
        self._turns = asyncio.Semaphore(pool_size)
        self._session: aiohttp.ClientSession | None = None
        self._shut = False

    @property
    def read_timeout(self) -> float | None:
        return self.timeouts.read

    async def initialize(self) -> None:
        self._shut = False
        self._open()

    async def shutdown(self) -> None:
        self._shut = True
        session, self._session = self._session, None
        if session is not None:
            await session.close()

    def _open(self) -> tuple[aiohttp.ClientSession, asyncio.Semaphore]:
        if self._shut:
            raise RuntimeError("This AiohttpRequest is not initialized!")
        if self._session is None or self._session.closed:
            connector = aiohttp.TCPConnector(limit=self._pool_size)
            self._session = aiohttp.ClientSession(connector=connector)
            self._turns = asyncio.Semaphore(self._pool_size)  # bound to this session's loop
        return self._session, self._turns

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        write_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        connect_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        pool_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        session, turns = self._open()
        limits = self.timeouts.given(read_timeout, write_timeout, connect_timeout, pool_timeout)
        if request_data is not None and request_data.multipart_data and isinstance(write_timeout, DefaultValue):
            limits = Timeouts(limits.read, self.media_write_s, limits.connect, limits.pool)
        await _turn(turns, limits.pool)
        try:
            return await self._send(session, method, url, request_data, limits)
        finally:
            turns.release()

    async def _send(
        self, session: aiohttp.ClientSession, method: str, url: str, data: RequestData | None, limits: Timeouts
    ) -> tuple[int, bytes]:
        """PTB's `BaseRequest.post` turns the status and body into its errors; this turns aiohttp's into its own."""
        headers = {"User-Agent": self.USER_AGENT}
        body: aiohttp.FormData | str | None = None
        if data is not None:
            body = _multipart(data) if data.multipart_data else data.url_encoded_parameters()
            headers.update(FORM if isinstance(body, str) else {})
        where = URL(url)
        tls = http_env.tls() if where.scheme == "https" else True
        proxy, proxy_auth = http_env.proxy(where.scheme, where.host or "")
        timeout = limits.client()
        try:
            async with session.request(
                method, where, data=body, headers=headers, timeout=timeout, ssl=tls, proxy=proxy, proxy_auth=proxy_auth
            ) as response:
                return response.status, await response.read()
        except TimeoutError as err:  # aiohttp's connect and read timeouts are TimeoutErrors too
            raise TimedOut from err
        except (aiohttp.ClientError, OSError) as err:
            raise NetworkError(f"aiohttp.{type(err).__name__}: {err}") from err


async def _turn(turns: asyncio.Semaphore, pool_s: float | None) -> None:
    """A free turn is taken without a timer (the usual case); a full pool waits up to `pool_s`."""
    if not turns.locked():
        await turns.acquire()
        return
    try:
        async with asyncio.timeout(pool_s):
            await turns.acquire()
    except TimeoutError:
        raise TimedOut(POOL_FULL) from None


def _multipart(data: RequestData) -> aiohttp.FormData:
    """The parameters as form fields and each file as a part, as httpx's `files=` with `data=` sends them."""
    form = aiohttp.FormData()
    for name, value in data.json_parameters.items():
        form.add_field(name, value)
    for name, upload in data.multipart_data.items():
        filename, content, kind = upload
        form.add_field(name, content, filename=filename, content_type=kind)
    return form
