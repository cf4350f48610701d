"""Text as a list or a headline shows it: one line, clipped with "…". One place, so the ledger's summaries,
/status, the digest, the cards and the shadow report all cut the same way."""

from __future__ import annotations


def one_line(text: str, limit: int) -> str:
    """`text` on one line (runs of whitespace, line breaks included, become one space), at most `limit`
    characters, ending in … when cut."""
    line = " ".join(text.split())
    return line if len(line) <= limit else line[: limit - 1] + "…"
