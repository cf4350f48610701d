"""Certificates and proxies for Deputy's own HTTP clients over aiohttp (the OpenAI-compatible model client, the
Telegram transport), found where httpx — the client each replaced — finds them: `SSL_CERT_FILE`, else certifi's
bundle; `HTTPS_PROXY`/`HTTP_PROXY`/`NO_PROXY`. Both are read once (per host, for proxies): aiohttp's own
`trust_env` looks the proxy up (and ~/.netrc) in a thread on every request, which cost as much CPU per Telegram
post as httpx itself did (issue 30)."""

from __future__ import annotations

import functools
import os
import ssl
from typing import TYPE_CHECKING

from yarl import URL

if TYPE_CHECKING:
    import aiohttp


@functools.cache
def tls() -> ssl.SSLContext:
    try:
        import certifi

        bundle: str | None = certifi.where()
    except ImportError:  # not installed: the system's certificates
        bundle = None
    return ssl.create_default_context(cafile=os.environ.get("SSL_CERT_FILE") or bundle)


@functools.cache
def proxy(scheme: str, host: str) -> tuple[URL | None, aiohttp.BasicAuth | None]:
    """The proxy for this host, and its credentials (from the proxy URL), or none."""
    from aiohttp.helpers import get_env_proxy_for_url  # only where a request is made (aiohttp: 0.1 s to import)

    try:
        return get_env_proxy_for_url(URL.build(scheme=scheme, host=host))
    except LookupError:
        return None, None


def proxy_for(url: str | URL) -> tuple[URL | None, aiohttp.BasicAuth | None]:
    where = URL(url)
    return proxy(where.scheme, where.host or "")
