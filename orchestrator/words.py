"""The chat words from CONTRACT.md, parsed the same way for every channel."""

from __future__ import annotations

import re
from dataclasses import dataclass

HELP = """\
Deputy — what you can say:
  any plain text, or /task <text>   start a task
  /approve <id>, /reject <id> [reason], /undo <id>
                                    decide a proposal (the buttons do the same)
  /edit <id> <field> <new value>    change a pending proposal (e.g. /edit p1 subject Hi)
  /snooze <id> [1h|tomorrow]        put off a proposal's reminder
  /status                           running tasks, pending proposals, today's spend
  /remember <fact>, /recall <query>, /forget <id>
                                    memory
  /digest                           the digest now
  /budget                           spend today and the cap
  /help                             this list"""


VERBS = frozenset(
    {
        "task",
        "approve",
        "reject",
        "undo",
        "edit",
        "status",
        "remember",
        "recall",
        "forget",
        "digest",
        "budget",
        "help",
        "start",
    }
)
"""The words a channel may offer without a slash (Slack's `/deputy status`)."""


@dataclass(frozen=True)
class Words:
    """A parsed message: `verb` is '' for plain text (a task), else the command without its slash."""

    verb: str
    arg: str = ""

    @property
    def first(self) -> str:
        return self.arg.split(maxsplit=1)[0] if self.arg.split() else ""

    @property
    def rest(self) -> str:
        parts = self.arg.split(maxsplit=1)
        return parts[1] if len(parts) > 1 else ""


_COMMAND = re.compile(r"^/(?P<verb>[A-Za-z_]+)(?:@\S+)?(?:\s+(?P<arg>.*))?$", re.DOTALL)


def parse(text: str) -> Words:
    """`/approve@deputy_bot p1` (Telegram groups) and `/Approve p1` parse like `/approve p1`."""
    match = _COMMAND.match(text.strip())
    if not match:
        return Words("", text)
    verb = match["verb"].lower()
    arg = (match["arg"] or "").strip()
    if verb == "task":
        return Words("", arg)
    return Words(verb, arg)
