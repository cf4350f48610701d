"""Who acts, and where: the chat a conversation happens in, the person (or policy) acting, and what they decided
or asked for. Plain values the model (orchestrator/model.py) keeps on its records."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


class Verdict(StrEnum):
    APPROVE = "approve"
    REJECT = "reject"


class MemoryWord(StrEnum):
    """The memory words: answered from memory at once, with no model call and no "On it…" before the answer."""

    REMEMBER = "remember"
    RECALL = "recall"
    FORGET = "forget"


@dataclass(frozen=True)
class MemoryAsk:
    """A request for memory, parsed once from the chat words (orchestrator/words.py): the word and what follows
    it (the fact, the query, the record's id). The task keeps it, so nothing parses the text again."""

    word: MemoryWord
    arg: str = ""


@dataclass(frozen=True)
class ChatRef:
    """Where a conversation happens: platform, chat id and, on Slack, the thread."""

    platform: str
    chat: str
    thread: str | None = None


@dataclass(frozen=True)
class Actor:
    platform: str
    user: str
    name: str = ""

    @property
    def id(self) -> str:
        return f"{self.platform}:{self.user}"

    @property
    def label(self) -> str:
        return self.name or self.id

    def label_for(self, platform: str) -> str:
        """As someone on `platform` reads it: the console's "you" is only the console user's own word."""
        return "the console" if self.platform == "console" and platform != "console" else self.label


@dataclass(frozen=True)
class Decision:
    verdict: Verdict
    actor: Actor
    at: datetime
    version: int
    reason: str = ""
    event_id: str = ""


@dataclass(frozen=True)
class Revising:
    """A revision the operator asked for, waiting for the agent: their feedback on the version they saw.
    `successor`: asked after a rejection (Revise with this instead), so the revision becomes a new proposal."""

    feedback: str
    actor: Actor
    chat: ChatRef
    version: int
    event_id: str
    at: datetime
    successor: bool = False
    ref: str = ""
    """The "Revising …" message, which the job's progress edits in place (best effort: empty if not kept)."""
