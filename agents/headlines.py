"""Headlines short enough for a card: a draft's summary and subject, cut on a word and saying so."""

from __future__ import annotations

SUMMARY_MAX = 300
"""A draft's summary, at most (the playbooks' draft schema refuses a longer one)."""
SUBJECT_MAX = 80
"""An email subject the offline model writes, at most: one short line (the field itself takes 120)."""


def clip(text: str, limit: int = SUMMARY_MAX) -> str:
    """`text` in at most `limit` characters: whole if it fits, else cut at the last word boundary that leaves room
    for "…" (mid-word only when the first word alone is too long), with the "…"."""
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    if not (cut[-1].isspace() or text[limit - 1].isspace()):  # inside a word: back to where that word starts
        start = cut.rfind(" ")
        cut = cut[:start] if start > 0 else cut
    return cut.rstrip(" ,.;:-") + "…"
