"""Text as a list or a headline shows it: one line, clipped with "…". One place, so the ledger's summaries,
/status, the digest, the cards and the shadow report all cut the same way."""

from __future__ import annotations

import re

_USERINFO = re.compile(r"(?<=://)[^/@\s]*@")
"""What follows a `://` up to an `@`, before any `/` or space: the user and password. Anchored on the `://` (the
scheme before it isn't matched): a scheme pattern in front was tried at every word of the text and backtracked
over it, quadratic in its length, and an 8,000-character request made the web process spend half its time here."""


def one_line(text: str, limit: int) -> str:
    """`text` on one line (runs of whitespace, line breaks included, become one space), at most `limit`
    characters, ending in … when cut."""
    line = " ".join(masked(text).split())
    return line if len(line) <= limit else line[: limit - 1] + "…"


def masked(text: str) -> str:
    """`text` with the credentials inside any URL in it (`scheme://user:pass@host`) shown as ***: a connector's
    error or a target may quote a configured URL, and what the ledger and the chat keep must not carry them."""
    return _USERINFO.sub("***@", text) if "://" in text else text
