"""The inbox playbook's `triage:` rules (config/playbooks/inbox.yaml, or the operator's own in
`$DEPUTY_DATA_DIR/playbooks/`): each rule names a kind and the conditions an email must meet; the first rule that
fits sorts it. Conditions are words and phrases, sender patterns and flags — never regular expressions: a file can't
hold a pattern that backtracks over hostile mail (bench/patterns.py), because Deputy writes each one itself, from
literal words with possessive whitespace between them, so matching is linear in the email's length. The email's text
is only matched, never read as instructions (docs/inbox.md, "Changing how mail is sorted")."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, field_validator

from orchestrator.inbox_views import COUNTED, NEEDS_REPLY

Kind = Literal["needs reply", "FYI", "invoice", "newsletter", "spam"]
KINDS: tuple[str, ...] = (NEEDS_REPLY, *COUNTED)
FALLBACK = "FYI"
"""An email no rule fits (a file without a last rule that has no conditions)."""
NUMBER = "{number}"
"""In a phrase: one or more digits (`order #{number}` fits "order #1234")."""
ASKING = (
    "?",
    *(f"{verb} you" for verb in ("could", "can", "would", "will")),
    *(f"please {verb}" for verb in ("confirm", "advise", "reply", "send", "call")),
    "let me know",
    "get back",
    "are you available",
)
"""What `asks: true` looks for: a question mark, or one of these phrases."""
CONDITIONS = ("words", "subject", "text", "from", "no_sender", "bulk", "asks")
_PHRASE_MAX, _PHRASES_MAX = 100, 500
_LOCAL = re.compile(r"^(?:\*|[\w.+'-]+)?$")
_DOMAIN = re.compile(r"^(?:\*|[\w-]+(?:\.[\w-]+)+)$")


def phrase_pattern(phrases: Sequence[str]) -> re.Pattern[str]:
    """One pattern for any of these phrases, as whole words, case-insensitive: each word escaped, whitespace
    between words possessive (`\\s++`: never given back, so nothing backtracks), `{number}` digits. Phrases with
    the same edges share one group, `\\b(?:a|b)\\b`, as a hand-written pattern would (a third faster to search)."""
    groups: dict[tuple[str, str], list[str]] = {}
    for phrase in phrases:
        words = phrase.split()
        body = r"\s++".join(r"\d++".join(re.escape(part) for part in word.split(NUMBER)) for word in words)
        groups.setdefault((_edge(words[0], 0), _edge(words[-1], -1)), []).append(body)
    return re.compile("|".join(f"{start}(?:{'|'.join(bodies)}){end}" for (start, end), bodies in groups.items()), re.I)


def _edge(word: str, at: int) -> str:
    """`\\b` where the phrase starts (ends) with a word character or a number, as a whole word must."""
    edge = NUMBER if (word.startswith(NUMBER) if at == 0 else word.endswith(NUMBER)) else word[at]
    return r"\b" if edge == NUMBER or edge.isalnum() or edge == "_" else ""


class TriageRule(BaseModel):
    """All of its conditions must hold (a list: any of its entries); a rule without conditions fits any email."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    kind: Kind
    words: list[str] = []
    """Words or phrases in the subject or the text."""
    subject: list[str] = []
    text: list[str] = []
    sender: list[str] = Field([], alias="from")
    """`name@*`, `@domain` (or `*@domain`), or an address."""
    no_sender: bool | None = None
    bulk: bool | None = None
    """The email says it was sent in bulk (List-Id, List-Unsubscribe, Precedence or Auto-Submitted)."""
    asks: bool | None = None
    """The email asks something (ASKING)."""
    _patterns: dict[str, re.Pattern[str]] = PrivateAttr(default_factory=dict)

    @field_validator("words", "subject", "text", "sender", mode="before")
    @classmethod
    def _listed(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value

    @field_validator("words", "subject", "text")
    @classmethod
    def _phrases(cls, value: list[str]) -> list[str]:
        if len(value) > _PHRASES_MAX:
            raise ValueError(f"at most {_PHRASES_MAX} phrases")
        for phrase in value:
            if not phrase.split() or len(phrase) > _PHRASE_MAX or not phrase.isprintable():
                raise ValueError(f"{phrase!r} is not a word or phrase (1 to {_PHRASE_MAX} printable characters)")
        return [" ".join(p.split()) for p in value]

    @field_validator("sender")
    @classmethod
    def _senders(cls, value: list[str]) -> list[str]:
        for pattern in value:
            local, at, domain = pattern.strip().lower().rpartition("@")
            if not at or not _LOCAL.match(local) or not _DOMAIN.match(domain):
                raise ValueError(f"from {pattern!r} is not an address, name@*, or @domain")
        return [p.strip().lower() for p in value]

    def model_post_init(self, _: Any) -> None:
        self._patterns = {
            name: phrase_pattern(found) for name in ("words", "subject", "text") if (found := getattr(self, name))
        }

    def fits(self, mail: Mapping[str, Any]) -> bool:
        sender = str(mail.get("sender") or "")
        subject, text = str(mail.get("subject") or ""), str(mail.get("text") or "")
        said = {"words": f"{subject}\n{text}", "subject": subject, "text": text}
        checks = (
            self.no_sender is None or self.no_sender == (not sender),
            self.bulk is None or self.bulk == bool(mail.get("bulk")),
            self.asks is None or self.asks == bool(_ASKS.search(said["words"])),
            not self.sender or any(_sent_by(sender, p) for p in self.sender),
        )
        return all(checks) and all(p.search(said[name]) for name, p in self._patterns.items())


def _sent_by(sender: str, pattern: str) -> bool:
    """`pattern` as `_senders` keeps it: lower case, `local@domain`, either part `*` (or an empty local part)."""
    local, _, domain = sender.lower().partition("@")
    want_local, _, want_domain = pattern.rpartition("@")
    return want_local in ("", "*", local) and want_domain in ("*", domain)


def sort(rules: Sequence[TriageRule], mail: Mapping[str, Any]) -> str:
    """The kind of the first rule that fits (FALLBACK when none does)."""
    return next((r.kind for r in rules if r.fits(mail)), FALLBACK)


_ASKS = phrase_pattern(ASKING)
