"""The coordinator: the one place commands are handled. Adapters hand it `Inbound` messages or commands; it
checks policy, changes state through the model, commits state and ledger together, then tells the chat."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from orchestrator import commands as cmd
from orchestrator import policies
from orchestrator.budget import PLAYBOOK as BUDGET_PLAYBOOK
from orchestrator.budget import BudgetGate
from orchestrator.clicks import Answer, Click, Clicks
from orchestrator.errors import (
    AlreadyDecided,
    BadRequest,
    CircuitOpen,
    Conflict,
    DeputyError,
    InvalidTransition,
    NotFound,
    PermanentConnectorError,
    PolicyDenied,
    StaleVersion,
    TransientConnectorError,
)
from orchestrator.events import Event
from orchestrator.model import (
    TASK_TERMINAL,
    ActionStatus,
    Actor,
    ChatRef,
    Decision,
    Proposal,
    ProposalDraft,
    ProposalStatus,
    Reply,
    StagedAction,
    Task,
    TaskStatus,
    Verdict,
)
from orchestrator.outbound import Kind, Outbound, money
from orchestrator.policies import Policies
from orchestrator.ports import (
    ActionRecords,
    ChatOutbox,
    Clock,
    Connector,
    DigestBook,
    Facts,
    JobQueue,
    Spend,
    TaskStore,
)
from orchestrator.reminders import Reminders, schedule
from orchestrator.words import HELP, Words, parse

log = logging.getLogger("deputy.core")
CONFLICT_RETRIES = 10


@dataclass(frozen=True)
class Inbound:
    """A message from any channel, already authenticated by its adapter."""

    actor: Actor
    chat: ChatRef
    text: str
    event_id: str


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


class Coordinator:
    def __init__(
        self,
        *,
        store: TaskStore,
        queue: JobQueue,
        outbox: ChatOutbox,
        records: ActionRecords,
        connectors: Mapping[str, Connector],
        clock: Clock,
        config: CoreConfig,
        facts: Facts | None = None,
        digests: DigestBook | None = None,
        spend: Spend | None = None,
    ) -> None:
        self.store, self.queue, self.outbox, self.records = store, queue, outbox, records
        self.connectors, self.clock, self.config, self.facts = connectors, clock, config, facts
        self.digests, self.spend = digests, spend
        self.digest_hook: Callable[[ChatRef, str], Awaitable[None]] | None = None
        """Set by the composition root: posts the digest now to a chat (the scheduler owns the digest)."""
        reminders = Reminders(self)
        self.clicks = Clicks(self)
        self.budget = BudgetGate(self)
        self._handlers: dict[type, Callable[[Any], Awaitable[Any]]] = {
            cmd.SubmitTask: self._submit,
            cmd.StartTask: self._start,
            cmd.CompleteDraft: self._complete,
            cmd.FailTask: self._fail,
            cmd.PauseTask: self.budget.pause,
            cmd.DecideProposal: self._decide,
            cmd.ApplyProposal: self._apply,
            cmd.UndoProposal: self._undo,
            cmd.EditProposal: self._edit,
            cmd.RemindDue: reminders.remind_due,
            cmd.SnoozeProposal: reminders.snooze,
        }

    async def handle(self, command: cmd.Command) -> Any:
        """Run a command's handler, re-running it from fresh state when a concurrent writer won a race."""
        handler = self._handlers[type(command)]
        for _ in range(CONFLICT_RETRIES):
            try:
                return await handler(command)
            except Conflict:
                continue
        raise Conflict(f"{type(command).__name__} kept conflicting with concurrent updates; try again.")

    # ---- inbound chat -------------------------------------------------------------------------------

    async def receive(self, inbound: Inbound) -> None:
        """Handle one chat message at most once (dedupe on the platform's event id); errors become replies."""
        key = f"event:{inbound.chat.platform}:{inbound.event_id}"
        if not await self.store.claim(key, self.config.dedupe_seconds):
            log.info("duplicate event %s ignored", key)
            return
        try:
            await self._route(parse(inbound.text), inbound)
        except DeputyError as err:
            await self.say(inbound.chat, Kind.ERROR, str(err), reply_to=inbound.event_id, final=True)
        except Exception:
            # Every step after a commit is best-effort, so reaching here means nothing was committed: let the
            # platform's redelivery (or the operator's retry) be handled instead of deduped away.
            with contextlib.suppress(Exception):
                await self.store.release(key)
            raise

    async def click(self, click: Click, answer: Answer) -> None:
        await self.clicks.click(click, answer)

    async def approve_low(self, click: Click, answer: Answer) -> None:
        await self.clicks.approve_low(click, answer)

    async def _route(self, words: Words, inbound: Inbound) -> None:
        simple: dict[str, Callable[[], Awaitable[str]]] = {
            "help": self._help_text,
            "start": self._help_text,
            "status": self.status_text,
            "budget": self.budget_text,
        }
        if words.verb in simple:
            text = await simple[words.verb]()
            if words.verb in ("help", "start") and not policies.is_operator(inbound.actor, self.config.operators):
                text += "\n\n" + policies.not_operator_text(inbound.actor)
            await self.say(inbound.chat, Kind.NOTICE, text, reply_to=inbound.event_id, final=True)
        elif words.verb in ("approve", "reject"):
            await self.handle(self._decision_from(words, inbound))
        elif words.verb == "undo":
            await self.handle(
                cmd.UndoProposal(
                    proposal_id=self._id_in(words), actor=inbound.actor, chat=inbound.chat, event_id=inbound.event_id
                )
            )
        elif words.verb == "edit":
            await self.handle(self._edit_from(words, inbound))
        elif words.verb in ("remember", "recall", "forget"):
            await self.handle(self._submit_from(inbound, f"{words.verb} {words.arg}".strip()))
        elif words.verb == "":
            await self.handle(self._submit_from(inbound, words.arg))
        elif words.verb == "snooze":
            until = words.rest.strip() or "1h"
            snooze = cmd.SnoozeProposal(
                proposal_id=self._id_in(words),
                actor=inbound.actor,
                chat=inbound.chat,
                until=until,
                event_id=inbound.event_id,
            )
            await self.handle(snooze)
        elif words.verb == "digest":
            if self.digest_hook is None:
                raise BadRequest("The digest is not set up in this process.")
            await self.digest_hook(inbound.chat, inbound.event_id)
        else:
            raise BadRequest(f"I don't know /{words.verb}. /help lists what I understand.")

    @staticmethod
    def _submit_from(inbound: Inbound, text: str) -> cmd.SubmitTask:
        return cmd.SubmitTask(text=text, actor=inbound.actor, chat=inbound.chat, event_id=inbound.event_id)

    @staticmethod
    def _id_in(words: Words) -> str:
        if not words.first:
            raise BadRequest(f"Which proposal? Type /{words.verb} <id>; /status lists pending ones.")
        return words.first

    def _edit_from(self, words: Words, inbound: Inbound) -> cmd.EditProposal:
        field_name, _, value = words.rest.partition(" ")
        if not field_name or not value.strip():
            raise BadRequest("Type /edit <id> <field> <new value>, e.g. /edit p1 subject Invoice 42 reminder.")
        return cmd.EditProposal(
            proposal_id=self._id_in(words),
            actor=inbound.actor,
            chat=inbound.chat,
            changes={field_name: value.strip()},
            event_id=inbound.event_id,
        )

    @staticmethod
    def _decision_from(words: Words, inbound: Inbound) -> cmd.DecideProposal:
        Coordinator._id_in(words)
        verdict = Verdict.APPROVE if words.verb == "approve" else Verdict.REJECT
        return cmd.DecideProposal(
            proposal_id=words.first,
            actor=inbound.actor,
            verdict=verdict,
            chat=inbound.chat,
            reason=words.rest,
            event_id=inbound.event_id,
        )

    async def _help_text(self) -> str:
        return HELP

    def today(self) -> str:
        """The local date (DEPUTY_TIMEZONE) budgets and digests are counted by."""
        return policies.local_date(self.clock.now(), self.config.timezone)

    async def budget_text(self) -> str:
        date = self.today()
        if self.spend is None:
            return f"Model spend today ({date}): $0.0000 of ${self.config.daily_budget_usd:.2f}."
        spent, cap, models = await self.spend.day(date), await self.spend.cap(date), await self.spend.models(date)
        lines = [f"Model spend today ({date}): {money(spent)} of ${cap:.2f}"]
        if cap > self.config.daily_budget_usd:
            lines[0] += f" (raised from ${self.config.daily_budget_usd:.2f} today)"
        for m in sorted(models, key=lambda m: -m.usd):
            cached = f", {m.cache_hits} from cache" if m.cache_hits else ""
            price = f" — {m.unpriced} unpriced (no known price: not counted)" if m.unpriced else ""
            lines.append(f"  {m.model}: {money(m.usd)} in {m.calls} calls{cached}{price}")
        if not models:
            lines.append("  no model calls yet today")
        return "\n".join(lines)

    async def running(self) -> list[Task]:
        ids = [
            tid
            for status in (TaskStatus.RECEIVED, TaskStatus.RUNNING, TaskStatus.APPLYING)
            for tid in await self.store.ids("task", status.value)
        ]
        return [t for t in [await self.store.get_task(tid) for tid in sorted(ids)] if t is not None]

    async def pending(self) -> list[Proposal]:
        ids = sorted(await self.store.ids("proposal", ProposalStatus.PENDING.value))
        return [p for p in [await self.store.get_proposal(pid) for pid in ids] if p is not None]

    async def spend_text(self) -> str:
        if self.spend is None:
            return f"$0.0000 of ${self.config.daily_budget_usd:.2f}"
        date = self.today()
        return f"{money(await self.spend.day(date))} of ${await self.spend.cap(date):.2f}"

    async def status_text(self) -> str:
        running, pending = await self.running(), await self.pending()
        listed = f" ({', '.join(t.id for t in running[:10])})" if running else ""
        lines = [f"Running tasks: {len(running)}{listed}", f"Pending proposals: {len(pending)}"]
        paused = await self.store.ids("task", TaskStatus.PAUSED.value)
        if paused:
            lines.insert(1, f"Paused for today's budget: {len(paused)} ({', '.join(paused[:10])})")
        lines += [f"  {p.id}: {p.summary}  (/approve {p.id} · /reject {p.id})" for p in pending[:10]]
        lines.append(f"Spend today: {await self.spend_text()}")
        return "\n".join(lines)

    # ---- tasks --------------------------------------------------------------------------------------

    async def _submit(self, c: cmd.SubmitTask) -> str:
        text = policies.check_request_text(c.text)
        policies.may_start_tasks(c.actor, self.config.operators)
        task = Task(
            id=await self.store.new_id("t"),
            text=text,
            actor=c.actor,
            chat=c.chat,
            event_id=c.event_id,
            created_at=self.clock.now(),
        )
        await self.store.commit([task], [task.submitted(task.created_at)])
        task.rev += 1
        task.message_ref = await self.say(c.chat, Kind.PROGRESS, "On it…", task_id=task.id, reply_to=c.event_id)
        if task.message_ref:
            await self._keep_message_ref(task)
        await self._enqueue(self.queue.enqueue_run(task.id), f"run {task.id}")
        return task.id

    async def enqueue_run(self, task: Task) -> None:
        """Run a paused task again (its first run finished when it paused)."""
        await self._enqueue(self.queue.enqueue_run(task.id, again=True), f"run {task.id}")

    @staticmethod
    async def _enqueue(job: Awaitable[None], what: str) -> None:
        """After a commit, a failed enqueue is not an error the sender should see: the maintenance sweep
        enqueues any task or approved proposal that has no job."""
        try:
            await job
        except Exception:
            log.exception("could not enqueue %s now; the maintenance sweep will", what)

    async def _keep_message_ref(self, task: Task) -> None:
        """Best effort: if a worker already took the task (the sweep can enqueue it), later updates post anew
        instead of editing. Never let this retry the whole submit, which would create a second task."""
        try:
            await self.store.commit([task], [])
        except Conflict:
            log.info("task %s moved on before its message reference was saved", task.id)
        except Exception:
            log.exception("could not save the message reference of task %s", task.id)

    async def _start(self, c: cmd.StartTask) -> Task | None:
        """The task for the agent to draft, or None when a retried job finds it already past drafting."""
        task = await self.task(c.task_id)
        if task.status not in (TaskStatus.RECEIVED, TaskStatus.RUNNING, TaskStatus.PAUSED):
            return None
        await self.store.commit([task], [task.start(self.clock.now())])
        task.rev += 1
        await self._progress(task, "Drafting…")
        return task

    async def _complete(self, c: cmd.CompleteDraft) -> None:
        task = await self.task(c.task_id)
        if task.status is not TaskStatus.RUNNING:
            return
        if isinstance(c.draft, Reply):
            await self._reply(task, c.draft)
            return
        try:
            proposal = await self._proposal_from(task, c.draft)
        except BadRequest as err:
            await self._reply(task, Reply(str(err), ok=False))
            return
        await self.store.commit([task, proposal], [task.propose(proposal, self.clock.now())])
        proposal.rev += 1
        rule = None if c.draft.always_ask else await self._auto_rule(proposal)
        if rule:  # shown once, already approved and naming the rule, by `_after_decision`
            await self.handle(
                cmd.DecideProposal(
                    proposal_id=proposal.id,
                    actor=Actor("policy", rule, f"rule {rule}"),
                    verdict=Verdict.APPROVE,
                    chat=proposal.chat,
                    version=proposal.version,
                    reason=f"auto-approved by rule {rule}",
                    event_id=task.event_id,
                )
            )
            return
        card = Outbound(
            kind=Kind.CARD,
            text=proposal.summary,
            proposal=proposal,
            task_id=task.id,
            reply_to=task.event_id,
            final=True,
        )
        await self.show(task, card)

    async def _reply(self, task: Task, reply: Reply) -> None:
        now = self.clock.now()
        event = task.answer(reply.text, now, cost_usd=reply.cost_usd) if reply.ok else task.fail(reply.text, now)
        await self.store.commit([task], [event])
        kind = Kind.NOTICE if reply.ok else Kind.ERROR
        await self.show(task, Outbound(kind=kind, text=reply.text, task_id=task.id, reply_to=task.event_id, final=True))

    async def _proposal_from(self, task: Task, draft: ProposalDraft) -> Proposal:
        actions = [self._stage(kind, fields) for kind, fields in draft.actions]
        if not actions:
            raise BadRequest("The draft had no action to stage.")
        blocked = "; ".join(r for r in (self.connectors[a.kind].unavailable() for a in actions) if r)
        proposal = Proposal(
            id=await self._proposal_id(task),
            task_id=task.id,
            chat=task.chat,
            playbook=draft.playbook,
            summary=draft.summary,
            actions=actions,
            created_at=self.clock.now(),
            risk=draft.risk,
            cost_estimate_usd=draft.cost_estimate_usd,
            cost_spent_usd=draft.cost_spent_usd,
            blocked_reason=blocked,
        )
        schedule(proposal, self.config.policies)
        return proposal

    async def _proposal_id(self, task: Task) -> str:
        """A task has at most one proposal, so it takes the task's never-reused id with a `p` (one Redis write
        fewer per task); the commit still refuses to overwrite an existing record."""
        return f"p{task.id[1:]}" if task.id.startswith("t") else await self.store.new_id("p")

    def _stage(self, kind: str, fields: dict[str, Any]) -> StagedAction:
        connector = self.connectors.get(kind)
        if connector is None:
            raise BadRequest(f"I can't do '{kind}' actions: no connector for them is installed.")
        clean = connector.validate(fields)
        preview = connector.preview(clean)
        return StagedAction(kind=kind, fields=clean, summary=preview.summary, target=preview.target)

    async def _auto_rule(self, proposal: Proposal) -> str | None:
        """The policy rule that approves this proposal without asking (named in the ledger), if any."""
        known: frozenset[str] = frozenset()
        if self.facts and self.config.policies.needs_memory:
            known = await self.facts.known([a.target.lower() for a in proposal.actions])
        return policies.auto_approval_rule(proposal, self.config.policies.auto_approve, known)

    async def _fail(self, c: cmd.FailTask) -> None:
        task = await self.task(c.task_id)
        if task.status in TASK_TERMINAL:
            return
        await self.store.commit([task], [task.fail(c.reason, self.clock.now())])
        await self.say(
            task.chat,
            Kind.ERROR,
            f"Task {task.id} failed: {c.reason}",
            task_id=task.id,
            reply_to=task.event_id,
            final=True,
        )

    # ---- decisions ----------------------------------------------------------------------------------

    async def _decide(self, c: cmd.DecideProposal) -> None:
        proposal = await self.proposal(c.proposal_id)
        if c.actor.platform != "policy":
            policies.require_operator(c.actor, self.config.operators, "approve or reject proposals")
        self._check_decidable(proposal, c)
        task = await self.task(proposal.task_id)
        decision = Decision(
            verdict=c.verdict,
            actor=c.actor,
            at=self.clock.now(),
            version=proposal.version,
            reason=c.reason.strip(),
            event_id=c.event_id,
        )
        try:
            event = proposal.decide(decision)
            task.decided(c.verdict)
        except InvalidTransition:
            raise Conflict("the task moved on while the proposal was read") from None  # re-read: handle() retries
        if c.verdict is Verdict.APPROVE and self._undo_window(proposal):
            proposal.hold_until = decision.at + timedelta(seconds=self.config.undo_seconds)
        await self.store.commit([proposal, task], [event])
        proposal.rev += 1
        if c.ack:
            with contextlib.suppress(Exception):
                await c.ack(f"{'Approved' if c.verdict is Verdict.APPROVE else 'Rejected'} {proposal.id}.")
        await self._after_decision(task, proposal, c)

    def _undo_window(self, proposal: Proposal) -> bool:
        return self.config.undo_seconds > 0 and policies.is_undoable(proposal, self.config.policies)

    def _check_decidable(self, proposal: Proposal, c: cmd.DecideProposal) -> None:
        if proposal.decision is not None:
            d = proposal.decision
            raise AlreadyDecided(
                f"Proposal {proposal.id} was already {d.verdict.value}d by {d.actor.label} at {d.at:%H:%M}. "
                "Nothing changed."
            )
        if proposal.status is not ProposalStatus.PENDING:
            raise AlreadyDecided(f"Proposal {proposal.id} is {proposal.status.value}. Nothing changed.")
        if c.version is not None and c.version != proposal.version:
            raise StaleVersion(
                f"That card showed version {c.version} of proposal {proposal.id}; it is now version "
                f"{proposal.version}. Look at the new card and decide again."
            )
        if c.verdict is Verdict.APPROVE:
            blocked = "; ".join(r for r in (self.connectors[a.kind].unavailable() for a in proposal.actions) if r)
            if blocked:
                raise PolicyDenied(f"Can't approve {proposal.id}: {blocked}. You can still /reject {proposal.id}.")

    async def _after_decision(self, task: Task, proposal: Proposal, c: cmd.DecideProposal) -> None:
        who = c.actor.label
        if c.verdict is Verdict.APPROVE:
            await self._enqueue(self.queue.enqueue_apply(proposal.id, at=proposal.hold_until), f"apply {proposal.id}")
            text = f"Approved by {who} — applying {proposal.id}…"
            if proposal.hold_until:
                text = f"Approved by {who} — sending in {self.config.undo_seconds} s. /undo {proposal.id} to cancel."
            final = False
        else:
            reason = f" Reason: {c.reason.strip()}" if c.reason.strip() else ""
            text = f"Rejected {proposal.id} ({who}). Nothing was done.{reason}"
            final = True
        kind = Kind.CARD if c.actor.platform == "policy" else Kind.OUTCOME  # an auto-approval was never shown
        message = Outbound(
            kind=kind, text=text, proposal=proposal, task_id=task.id, reply_to=c.event_id or None, final=final
        )
        await self.show(task, message)
        if c.chat != task.chat:
            await self.say(c.chat, Kind.NOTICE, text, task_id=task.id, reply_to=c.event_id or None, final=True)
        if proposal.playbook == BUDGET_PLAYBOOK and c.verdict is Verdict.REJECT:
            await self.budget.stop(who)

    # ---- applying -----------------------------------------------------------------------------------

    async def _apply(self, c: cmd.ApplyProposal) -> None:
        """Apply each approved action once; safe to re-run after any crash: every outcome is in its
        idempotency record (see `_call_once`) before the commit that reports it."""
        proposal = await self.proposal(c.proposal_id)
        if proposal.status is not ProposalStatus.APPROVED:
            return
        task = await self.task(proposal.task_id)
        if task.status in TASK_TERMINAL:
            if proposal.playbook == BUDGET_PLAYBOOK and task.status is TaskStatus.DONE:
                await self.budget.resume()  # a retry after a crash between the raise and the resume
            return
        if proposal.hold_until and self.clock.now() < proposal.hold_until:
            log.info("proposal %s is held for undo until %s", proposal.id, proposal.hold_until)
            return  # the sweep enqueues it again for the end of the window
        await self._begin_applying(task, proposal)
        events: list[Event] = []
        for index, action in enumerate(proposal.actions):
            if action.status is ActionStatus.APPLYING:
                ok, outcome = await self._call_once(self.connectors[action.kind], action, f"{proposal.id}:{index}")
                new = ActionStatus.APPLIED if ok else ActionStatus.FAILED
                events.append(proposal.action_moved(index, new, self.clock.now(), outcome))
        await self._settle(task, proposal, events)

    async def _begin_applying(self, task: Task, proposal: Proposal) -> None:
        now = self.clock.now()
        events = [e for e in [task.applying(now)] if e]
        events += [
            proposal.action_moved(i, ActionStatus.APPLYING, now)
            for i, a in enumerate(proposal.actions)
            if a.status is ActionStatus.STAGED
        ]
        if events:
            await self.store.commit([task, proposal], events)
            task.rev += 1
            proposal.rev += 1

    async def _call_once(self, connector: Connector, action: StagedAction, key: str) -> tuple[bool, str]:
        """The exactly-once step. Intent is recorded before the call and the outcome after; an attempt that
        finds intent without outcome was cut short by a crash. It re-sends only when the far side dedupes on
        the key; otherwise it reports the action as applied but unconfirmed rather than risk a duplicate.
        A transient error drops the intent (nothing was delivered) and propagates, so the job retries."""
        prior = await self.records.begin(key)
        if prior is not None and prior.outcome is not None:
            return _parse_outcome(prior.outcome)
        if prior is not None and not connector.resend_safe:
            action.unconfirmed = True
            outcome = f"{action.summary} — unconfirmed: Deputy stopped mid-send; not re-sent to avoid a duplicate"
            await self.records.finish(key, outcome)
            return True, outcome
        try:
            outcome = await connector.apply(action.fields, key)
        except CircuitOpen as err:
            await self.records.forget(key)
            if err.just_opened:
                await self.say(self._notice_chat, Kind.ERROR, f"{action.kind} paused: {err}")
            raise
        except TransientConnectorError:
            await self.records.forget(key)
            raise
        except PermanentConnectorError as err:
            await self.records.finish(key, f"{FAILED_PREFIX}{err}")
            return False, str(err)
        await self.records.finish(key, outcome)
        return True, outcome

    async def _settle(self, task: Task, proposal: Proposal, events: list[Event]) -> None:
        failed = [a for a in proposal.actions if a.status is ActionStatus.FAILED]
        outcomes = "; ".join(a.outcome for a in proposal.actions)
        d = proposal.decision
        by = f" · approved by {d.actor.label} {d.at:%H:%M}" if d else ""
        cost = f" · {money(proposal.cost_spent_usd)}"
        now = self.clock.now()
        if failed:
            event = task.fail(f"{len(failed)} of {len(proposal.actions)} actions failed: {outcomes}", now)
            text, kind = f"Failed: {outcomes}{by}{cost}", Kind.ERROR
        else:
            event = task.finish(now, outcomes)
            text, kind = f"Done: {outcomes}{by}{cost}", Kind.OUTCOME
        await self.store.commit([task, proposal], [*events, event])
        if proposal.playbook == BUDGET_PLAYBOOK and not failed:
            await self.budget.resume()
        message = Outbound(
            kind=kind,
            text=text,
            proposal=proposal,
            task_id=task.id,
            reply_to=(d.event_id or None) if d else None,
            final=True,
        )
        await self.show(task, message)

    # ---- undo and edit ------------------------------------------------------------------------------

    async def _undo(self, c: cmd.UndoProposal) -> None:
        proposal = await self.proposal(c.proposal_id)
        policies.require_operator(c.actor, self.config.operators, "undo actions")
        task = await self.task(proposal.task_id)
        if proposal.status is not ProposalStatus.APPROVED or task.status is not TaskStatus.APPROVED:
            raise AlreadyDecided(self._too_late(proposal, task))
        event = proposal.undo(c.actor, self.clock.now())
        task.undone()
        await self.store.commit([proposal, task], [event])
        text = f"Undone: {proposal.id} was cancelled by {c.actor.label} before it ran. Nothing was sent."
        await self.show(
            task,
            Outbound(
                kind=Kind.OUTCOME,
                text=text,
                proposal=proposal,
                task_id=task.id,
                reply_to=c.event_id or None,
                final=True,
            ),
        )
        if c.chat != task.chat:
            await self.say(c.chat, Kind.NOTICE, text, reply_to=c.event_id or None, final=True)

    @staticmethod
    def _too_late(proposal: Proposal, task: Task) -> str:
        if proposal.status is ProposalStatus.PENDING:
            return f"Proposal {proposal.id} is not approved yet; /reject {proposal.id} instead."
        if task.status in (TaskStatus.APPLYING, TaskStatus.DONE, TaskStatus.FAILED):
            done = "; ".join(a.outcome for a in proposal.actions if a.outcome) or "it is already running"
            return f"Too late to undo {proposal.id}: {done}."
        return f"Proposal {proposal.id} is {proposal.status.value}; there is nothing to undo."

    async def _edit(self, c: cmd.EditProposal) -> None:
        proposal = await self.proposal(c.proposal_id)
        policies.require_operator(c.actor, self.config.operators, "edit proposals")
        if not 0 <= c.index < len(proposal.actions):
            raise BadRequest(f"Proposal {proposal.id} has no action #{c.index + 1}.")
        if proposal.status is not ProposalStatus.PENDING:
            raise AlreadyDecided(
                f"Proposal {proposal.id} is {proposal.status.value}; only a pending one can be edited."
            )
        old = proposal.actions[c.index]
        unknown = set(c.changes) - set(old.fields)
        if unknown:
            raise BadRequest(f"{old.kind} has no field {', '.join(sorted(unknown))}; it has {', '.join(old.fields)}.")
        action = self._stage(old.kind, {**old.fields, **c.changes})
        event = proposal.edit(c.index, action, c.actor, self.clock.now())
        await self.store.commit([proposal], [event])
        proposal.rev += 1
        task = await self.task(proposal.task_id)
        await self.show(
            task,
            Outbound(
                kind=Kind.CARD,
                text=proposal.summary,
                proposal=proposal,
                task_id=task.id,
                reply_to=c.event_id or None,
                final=True,
            ),
        )

    # ---- inbound webhooks ---------------------------------------------------------------------------

    async def receive_hook(self, *, name: str, body: str, key: str, chat: ChatRef) -> str | None:
        """A signed inbound webhook starts a task; its body is untrusted data, never parsed as chat words.
        None when this delivery (same key) was seen before."""
        if not await self.store.claim(f"hook:{name}:{key}", self.config.dedupe_seconds):
            return None
        text = body if len(body) <= policies.MAX_REQUEST_CHARS else body[: policies.MAX_REQUEST_CHARS]
        submit = cmd.SubmitTask(
            text=text, actor=Actor(policies.HOOK, name, f"webhook {name}"), chat=chat, event_id=f"hook-{name}-{key}"
        )
        task_id: str = await self.handle(submit)
        return task_id

    # ---- helpers ------------------------------------------------------------------------------------

    @property
    def _notice_chat(self) -> ChatRef:
        return self.config.notices

    async def task(self, task_id: str) -> Task:
        task = await self.store.get_task(task_id)
        if task is None:
            raise NotFound(f"No task with id {task_id!r}.")
        return task

    async def proposal(self, proposal_id: str) -> Proposal:
        """A proposal by id, or `NotFound` in words the operator can act on."""
        proposal = await self.store.get_proposal(proposal_id)
        if proposal is None:
            raise NotFound(f"No proposal with id {proposal_id!r}. /status lists the pending ones.")
        return proposal

    async def _progress(self, task: Task, text: str) -> None:
        await self.show(task, Outbound(kind=Kind.PROGRESS, text=text, task_id=task.id, reply_to=task.event_id))

    async def show(self, task: Task, message: Outbound) -> None:
        """Update the task's own message in place where the platform can, else post anew."""
        try:
            if task.message_ref:
                await self.outbox.edit(task.chat, task.message_ref, message)
            else:
                await self.outbox.send(task.chat, message)
        except Exception:
            log.exception("could not show %s for task %s", message.kind.value, task.id)

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

    async def post(self, chat: ChatRef, message: Outbound) -> str | None:
        """Best effort, after the commit that made the message true: a chat outage never undoes state."""
        try:
            return await self.outbox.send(chat, message)
        except Exception:
            log.exception("could not send %s to %s", message.kind.value, chat)
            return None


FAILED_PREFIX = "failed: "


def _parse_outcome(recorded: str) -> tuple[bool, str]:
    if recorded.startswith(FAILED_PREFIX):
        return False, recorded[len(FAILED_PREFIX) :]
    return True, recorded
