"""The console's `ChatOutbox`: messages go to a Redis Stream per chat, so a worker in another process can
talk to the terminal running `deputy chat`, and nothing is lost while it is closed."""

from __future__ import annotations

from redis.asyncio import Redis

from bot.console.render import render
from memory import keys
from orchestrator.model import ChatRef, ProposalStatus
from orchestrator.outbound import Outbound

MAXLEN = 10_000


class ConsoleOutbox:
    def __init__(self, redis: Redis) -> None:
        self.redis = redis

    async def send(self, chat: ChatRef, message: Outbound) -> str | None:
        """None: a terminal can't edit a printed line, so progress and outcome arrive as new lines."""
        await self._append(chat, message, ref="")
        return None

    async def edit(self, chat: ChatRef, ref: str, message: Outbound) -> None:
        await self._append(chat, message, ref=ref)

    async def _append(self, chat: ChatRef, message: Outbound, *, ref: str) -> None:
        fields = {
            "text": render(message),
            "kind": message.kind.value,
            "reply_to": message.reply_to or "",
            "final": "1" if message.final else "0",
            "settles": "1" if settles(message) else "0",
            "task": message.task_id or "",
            "ref": ref,
            "proposal": message.proposal.id if message.proposal else "",
        }
        await self.redis.xadd(keys.console(chat.chat), fields, maxlen=MAXLEN, approximate=True)  # type: ignore[arg-type]


def settles(message: Outbound) -> bool:
    """Whether this reply ends its sender's wait: nothing more is coming for it, or what comes next can still be
    stopped. An approval held in its undo window is that moment: a script may /undo it next."""
    proposal = message.proposal
    held = proposal is not None and proposal.status is ProposalStatus.APPROVED and proposal.hold_until is not None
    return message.final or held
