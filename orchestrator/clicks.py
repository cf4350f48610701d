"""Button presses: each handled at most once, and the presser always answered — with the decision, or with
why nothing changed. "Approve all low-risk" is one press per listed proposal, so it can't double either."""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from orchestrator import commands as cmd
from orchestrator.errors import BadRequest, DeputyError
from orchestrator.model import Actor, ChatRef, Verdict

if TYPE_CHECKING:
    from orchestrator.coordinator import Coordinator


@dataclass(frozen=True)
class Click:
    """A button press: `verb` is approve, reject, undo, snooze:1h or snooze:tomorrow (approve_low for a digest's
    button, whose `proposal_id` is the digest id); `event_id` is the platform's id for the press."""

    actor: Actor
    chat: ChatRef
    verb: str
    proposal_id: str
    event_id: str
    reason: str = ""
    version: int | None = None


Answer = Callable[[str, bool], Awaitable[None]]


class Clicks:
    def __init__(self, core: Coordinator) -> None:
        self.core = core

    async def click(self, click: Click, answer: Answer) -> None:
        """Handle a button press at most once; the presser always gets one short answer (a toast or an
        ephemeral line): the decision, or — with `refused=True` — why nothing changed."""
        key = f"event:{click.chat.platform}:{click.event_id}"
        if not await self.core.store.claim(key, self.core.config.dedupe_seconds):
            return
        answered: list[str] = []

        async def accepted(text: str) -> None:
            answered.append(text)
            await answer(text, False)

        try:
            await self.core.handle(self._command(click, accepted))
        except DeputyError as err:
            await answer(str(err), True)
            return
        except Exception:
            with contextlib.suppress(Exception):  # as in `receive`: nothing was committed, so a retry may run
                await self.core.store.release(key)
            raise
        if not answered:
            await accepted(f"{click.verb.capitalize()}: done.")

    @staticmethod
    def _command(click: Click, ack: Callable[[str], Awaitable[None]]) -> cmd.Command:
        if click.verb.startswith("snooze:"):
            until = click.verb.removeprefix("snooze:")
            return cmd.SnoozeProposal(
                proposal_id=click.proposal_id, actor=click.actor, chat=click.chat, until=until, event_id=click.event_id
            )
        if click.verb == "undo":
            return cmd.UndoProposal(
                proposal_id=click.proposal_id, actor=click.actor, chat=click.chat, event_id=click.event_id
            )
        if click.verb not in ("approve", "reject"):
            raise BadRequest(f"Unknown button {click.verb!r}.")
        return cmd.DecideProposal(
            proposal_id=click.proposal_id,
            actor=click.actor,
            verdict=Verdict.APPROVE if click.verb == "approve" else Verdict.REJECT,
            chat=click.chat,
            reason=click.reason,
            event_id=click.event_id,
            version=click.version,
            ack=ack,
        )

    async def approve_low(self, click: Click, answer: Answer) -> None:
        """A digest's "Approve all low-risk": each proposal it listed, at the version it showed, once. Each
        approval is its own click (deduped per digest press and proposal), so a second press doubles nothing."""
        entries = await self.core.digests.entries(click.proposal_id) if self.core.digests else []
        approved, skipped = 0, 0

        async def count(text: str, refused: bool) -> None:
            nonlocal approved, skipped
            approved, skipped = approved + (not refused), skipped + refused

        for proposal_id, version in entries:
            each = Click(
                click.actor, click.chat, "approve", proposal_id, f"{click.event_id}:{proposal_id}", "", version
            )
            await self.click(each, count)
        left = f"; {skipped} already decided or not allowed" if skipped else ""
        await answer(f"Approved {approved} low-risk proposal{'s' if approved != 1 else ''}{left}.", approved == 0)
