"""What every handler receives: the ports, the settings, the clock, and the few helpers all of them need
(load a task or proposal, show a card, say something, stage an action, enqueue a job). No handler holds the
bus; follow-up work goes back to it as commands in the handler's `Outcome`."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from orchestrator import policies
from orchestrator.commands import Command
from orchestrator.errors import Ambiguous, BadRequest, NotFound
from orchestrator.model import ChatRef, Proposal, ProposalStatus, StagedAction, Task
from orchestrator.outbound import Kind, Outbound
from orchestrator.policies import Policies
from orchestrator.ports import (
    ActionRecords,
    ChatOutbox,
    Claims,
    Clock,
    Connector,
    DigestBook,
    Facts,
    Ids,
    JobQueue,
    Later,
    Ledger,
    RecordBook,
    Spend,
    TaskStore,
)
from orchestrator.records import Schema
from orchestrator.statuses import TASK_TO_SHOW

log = logging.getLogger("deputy.core")
PREFIX_CHARS = 4


@dataclass(frozen=True)
class CoreConfig:
    operators: frozenset[str] = frozenset()
    policies: Policies = field(default_factory=Policies)
    undo_seconds: int = 0
    notices: ChatRef = field(default_factory=lambda: ChatRef("console", "local"))
    dedupe_seconds: int = 2 * 24 * 3600
    daily_budget_usd: float = 5.0
    timezone: str = "UTC"
    digest_at: str = "08:00"
    schema: Schema = field(default_factory=Schema)
    """The records' fields, with the extra ones `DEPUTY_DATA_DIR/records.yaml` declares."""


@dataclass(frozen=True)
class Outcome:
    """What a handler hands back: `value` for whoever sent the command (a task id, a presser's confirmation),
    and `then`, the commands the bus runs next — each with its own retries, never inside this one's."""

    value: Any = None
    then: tuple[Command, ...] = ()


@dataclass
class Core:
    store: TaskStore
    ids: Ids
    claims: Claims
    queue: JobQueue
    outbox: ChatOutbox
    records: ActionRecords
    connectors: Mapping[str, Connector]
    clock: Clock
    config: CoreConfig
    facts: Facts
    digests: DigestBook
    spend: Spend
    ledger: Ledger
    """Read by /stats; the core only ever writes the ledger through `store.commit`."""
    later: Later
    """What is scheduled for later (`task.later`): the scheduler fires it, /cancel stops it, /status lists it."""
    book: RecordBook
    """Clients and projects (orchestrator/records.py): /who, /client, /merge, /forget client, links."""

    def today(self) -> str:
        """The local date (DEPUTY_TIMEZONE) budgets and digests are counted by."""
        return policies.local_date(self.clock.now(), self.config.timezone)

    def now(self) -> datetime:
        return self.clock.now()

    # ---- reading ------------------------------------------------------------------------------------

    async def task(self, task_id: str) -> Task:
        task = await self.store.get_task(task_id)
        if task is None:
            raise NotFound(f"No task with id {task_id!r}.")
        return task

    async def proposal(self, proposal_id: str) -> Proposal:
        """A proposal by its id, by a unique start of it (4 characters or more: ids are long to type on a
        phone), or — with no id at all — the only one waiting; else `NotFound`/`Ambiguous` in words the operator
        can act on."""
        if not proposal_id:
            return await self._only_pending()
        proposal = await self.store.get_proposal(proposal_id)
        if proposal is None and len(proposal_id) >= PREFIX_CHARS:
            proposal = await self._by_prefix(proposal_id)
        if proposal is None:
            more = f" Type at least {PREFIX_CHARS} characters of it." if len(proposal_id) < PREFIX_CHARS else ""
            raise NotFound(f"No proposal with id {proposal_id!r}.{more} /status lists the pending ones.")
        return proposal

    async def _only_pending(self) -> Proposal:
        waiting = await self.store.ids("proposal", ProposalStatus.PENDING.value)
        if not waiting:
            raise NotFound("Nothing is waiting for a decision. /status shows what is running.")
        if len(waiting) > 1:
            waiting = await self._with_actions(waiting)
        if len(waiting) > 1:
            raise Ambiguous(f"{len(waiting)} proposals are waiting: which one?", choices=sorted(waiting))
        return await self.proposal(waiting[0])

    async def _with_actions(self, waiting: list[str]) -> list[str]:
        """Cards that only show something (an FYI email, with Mark read and Archive beside it) wait too, but hold
        nothing to approve: a bare word means the one card that does, when only one does."""
        found = [p for pid in waiting if (p := await self.store.get_proposal(pid)) is not None and p.actions]
        return [found[0].id] if len(found) == 1 else waiting

    async def _by_prefix(self, start: str) -> Proposal | None:
        ids = {pid for status in ProposalStatus for pid in await self.store.ids("proposal", status.value)}
        matches = sorted(pid for pid in ids if pid.startswith(start))
        if len(matches) > 1:
            raise Ambiguous(f"{start!r} could be {', '.join(matches[:5])}: type more of the id.", choices=matches)
        return await self.store.get_proposal(matches[0]) if matches else None

    # ---- staging ------------------------------------------------------------------------------------

    def stage(self, kind: str, fields: dict[str, Any]) -> StagedAction:
        """An action as its connector validates and describes it; `BadRequest` in the connector's words."""
        connector = self.connectors.get(kind)
        if connector is None:
            raise BadRequest(f"I can't do '{kind}' actions: no connector for them is installed.")
        clean = connector.validate(fields)
        seen = connector.preview(clean)
        staged = StagedAction(kind, clean, seen.summary, seen.target, subject=seen.subject, body=seen.body)
        staged.grant = seen.grant
        return staged

    def blocked(self, actions: list[StagedAction]) -> str:
        """Why approving these would fail now (a connector not set up), or ''."""
        return "; ".join(r for r in (self.connectors[a.kind].unavailable() for a in actions) if r)

    # ---- queueing -----------------------------------------------------------------------------------

    @staticmethod
    async def enqueue(job: Awaitable[None], what: str) -> None:
        """After a commit, a failed enqueue is not an error the sender should see: the maintenance sweep
        enqueues any task or approved proposal that has no job."""
        try:
            await job
        except Exception:
            log.exception("could not enqueue %s now; the maintenance sweep will", what)

    # ---- telling the chat ---------------------------------------------------------------------------

    async def show(self, task: Task, message: Outbound) -> None:
        """Update the task's own message in place where the platform can, else post anew — and then say the
        chat has it, so neither a re-run nor the scheduler's show pass posts it again."""
        try:
            ref = ""
            if task.message_ref:
                await self.outbox.edit(task.chat, task.message_ref, message)
            else:
                ref = await self.outbox.send(task.chat, message) or ""
            await self.shown(task, ref)
        except Exception:
            log.exception("could not show %s for task %s", message.kind.value, task.id)

    async def tell(self, task: Task, message: Outbound) -> None:
        """Post a new message about the task (not an edit of its own), then say the chat has its state."""
        try:
            await self.outbox.send(task.chat, message)
            await self.shown(task)
        except Exception:
            log.exception("could not tell %s for task %s", message.kind.value, task.id)

    async def shown(self, task: Task, ref: str = "") -> None:
        """The task's current state is in the chat (its message at `ref`, when new). Nothing to say for a state
        that is never unshown (a progress line, "Drafting…", edited in place): a round trip saved per job."""
        if ref:
            task.message_ref = ref
        elif task.status not in TASK_TO_SHOW:
            return
        await self.store.shown(task.id, task.status.value, ref)

    async def say(
        self,
        chat: ChatRef,
        kind: Kind,
        text: str,
        *,
        task_id: str | None = None,
        reply_to: str | None = None,
        final: bool = False,
    ) -> str | None:
        return await self.post(chat, Outbound(kind=kind, text=text, task_id=task_id, reply_to=reply_to, final=final))

    async def edit(self, chat: ChatRef, ref: str, message: Outbound) -> None:
        """Best effort, like `post`: a message of the chat's, changed in place."""
        try:
            await self.outbox.edit(chat, ref, message)
        except Exception:
            log.exception("could not edit %s in %s", message.kind.value, chat)

    async def post(self, chat: ChatRef, message: Outbound) -> str | None:
        """Best effort, after the commit that made the message true: a chat outage never undoes state."""
        try:
            return await self.outbox.send(chat, message)
        except Exception:
            log.exception("could not send %s to %s", message.kind.value, chat)
            return None
