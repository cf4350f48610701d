"""The coordinator is Deputy's message bus: one table from command type to handler, the entry points the
adapters call (`receive` a chat message, `click` a button, `receive_hook` a signed webhook), and the loop
that runs the follow-up commands a handler returns. Handlers live in orchestrator/handlers/; none of them
calls the bus."""

from __future__ import annotations

import contextlib
import logging
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import Any

from orchestrator import buttons, policies, words
from orchestrator import commands as cmd
from orchestrator.buttons import Click
from orchestrator.commands import Answer, Command, Inbound
from orchestrator.core import Core, Outcome
from orchestrator.errors import Ambiguous, BadRequest, Conflict, DeputyError, StaleVersion
from orchestrator.handlers import (
    applying,
    budget,
    decisions,
    grants,
    later,
    offers,
    records,
    recovery,
    reminders,
    revisions,
    showing,
    tasks,
    views,
)
from orchestrator.model import Actor, ChatRef, Draft, StagedAction
from orchestrator.outbound import Kind, Outbound
from orchestrator.views import Views

log = logging.getLogger("deputy.core")
CONFLICT_RETRIES = 10
REFUSAL_EVERY_S = 3600
"""Someone who is not an operator is answered once an hour at most: a stranger's flood can't crowd the chat."""
REFUSALS_PER_MINUTE = 10
"""And strangers together at most this often: a crowd of them can't queue answers ahead of the operator's."""
Handler = Callable[[Any, Core], Awaitable[Outcome | None]]
HookDrafter = Callable[[str, str], Draft]
"""A hook's name and text → its draft, by code (agents/offline.py's `inbound_hook`)."""


async def _no_digest(c: cmd.PostDigest, core: Core) -> None:
    raise BadRequest("The digest is not set up in this process.")


HANDLERS: dict[type, Handler] = {
    cmd.SubmitTask: tasks.submit,
    cmd.StartTask: tasks.start,
    cmd.CompleteDraft: tasks.complete,
    cmd.FailTask: tasks.fail,
    cmd.PauseTask: budget.pause,
    cmd.DeferTask: tasks.defer,
    cmd.ResumePaused: budget.resume,
    cmd.StopPaused: budget.stop,
    cmd.DecideProposal: decisions.decide,
    cmd.AfterDecision: decisions.after,
    cmd.ApplyProposal: applying.apply,
    cmd.UndoProposal: decisions.undo,
    cmd.EditProposal: decisions.edit,
    cmd.ReviseProposal: revisions.ask,
    cmd.ReviseRejected: revisions.ask_instead,
    cmd.StageRevision: revisions.stage,
    cmd.SendAgain: recovery.send_again,
    cmd.MarkSent: recovery.mark_sent,
    cmd.RunRest: recovery.run_rest,
    cmd.AfterRemedy: recovery.after,
    cmd.ShowAgain: showing.show_again,
    cmd.RemindDue: reminders.remind_due,
    cmd.SnoozeProposal: reminders.snooze,
    cmd.RunLater: later.run,
    cmd.FinishLater: later.finish,
    cmd.SayReminder: later.say_again,
    cmd.CancelLater: later.cancel,
    cmd.ShowView: views.show,
    cmd.RecordWord: records.word,
    cmd.AlwaysAllow: grants.always_allow,
    cmd.ToolWord: grants.word,
    cmd.TakeOffer: offers.take,
    cmd.OfferDone: offers.done,
    cmd.PostDigest: _no_digest,  # the composition root routes it to the scheduler
}
NOTHING = Outcome()


class Coordinator:
    def __init__(self, core: Core) -> None:
        self.core = core
        """The handlers' ports; adapters read through `views` and write through commands, never through this."""
        self.handlers = dict(HANDLERS)
        self.views = Views(core)
        """The read side adapters and entry points call (status, lists, the proposal a button names)."""

    def route(self, kind: type, handler: Handler) -> None:
        """Give a command type another handler (the composition root: /digest goes to the scheduler)."""
        self.handlers[kind] = handler

    async def handle(self, command: Command) -> Any:
        """Run a command, then the follow-ups it returns; the value is the command's own."""
        outcome = await self._run(command)
        await self._follow(outcome.then)
        return outcome.value

    async def _run(self, command: Command) -> Outcome:
        """One handler, re-run from fresh state when a concurrent writer won a race."""
        handler = self.handlers[type(command)]
        for _ in range(CONFLICT_RETRIES):
            try:
                return await handler(command, self.core) or NOTHING
            except Conflict:
                continue
        raise Conflict(f"{type(command).__name__} kept conflicting with concurrent updates; try again.")

    async def _follow(self, commands: tuple[Command, ...]) -> None:
        """Each follow-up on its own: what caused it is committed and was answered, so a refusal is logged."""
        for command in commands:
            try:
                await self.handle(command)
            except DeputyError as err:
                log.warning("follow-up %s changed nothing: %s", type(command).__name__, err)

    # ---- entry points ---------------------------------------------------------------------------------

    def stage(self, kind: str, fields: dict[str, Any]) -> StagedAction:
        """An action as its connector validates and describes it (`deputy shadow` stages its drafts so)."""
        return self.core.stage(kind, fields)

    async def notify(self, chat: ChatRef, message: Outbound) -> str | None:
        """A notice from the process itself (a worker down, Redis back): best effort, like every post."""
        return await self.core.post(chat, message)

    async def receive(self, inbound: Inbound) -> None:
        """Handle one chat message at most once (dedupe on the platform's event id); errors become replies."""
        key = f"event:{inbound.chat.platform}:{inbound.event_id}"
        said = self._said(inbound)
        claimed, task_id = await self._claim(key, inbound.delivery, said)
        if not claimed:
            log.info("duplicate event %s ignored", key)
            return
        if not await self._answers(inbound.actor):
            return
        try:
            if isinstance(said, DeputyError):
                raise said
            if task_id and isinstance(said, cmd.SubmitTask):
                said = replace(said, task_id=task_id)
            outcome = await self._run(said)
        except DeputyError as err:
            await self.core.say(inbound.chat, Kind.ERROR, str(err), reply_to=inbound.event_id, final=True)
            await self._current_card(err, inbound.chat)
            return
        except Exception:
            await self._release(key)
            raise
        await self._follow(outcome.then)

    def _said(self, inbound: Inbound) -> Command | DeputyError:
        """What the message asks for, or why it can't be done: parsed before the claim (parsing reads nothing),
        so an operator's new task has its id reserved in the claim's own write."""
        try:
            return words.parse(inbound)
        except DeputyError as err:
            return err

    async def _claim(self, key: str, delivery: str, said: Command | DeputyError | None = None) -> tuple[bool, str]:
        """First come only; the same stored delivery again (after a crash) is let through: its handlers are
        idempotent (a task is found by its delivery, a repeated decision changes nothing). With the claim, an
        operator's new task gets its id (a stranger's message reserves nothing: it is answered, not done)."""
        owner, ttl = delivery or uuid.uuid4().hex, self.core.config.dedupe_seconds
        if isinstance(said, cmd.SubmitTask) and policies.is_operator(said.actor, self.core.config.operators):
            return await self.core.claims.claim_with_id(key, ttl, owner, tasks.delivery_key(said))
        return await self.core.claims.claim(key, ttl, owner), ""

    async def _answers(self, actor: Actor) -> bool:
        """Operators always; anyone else once an hour (they are told their id and how to be added), and all of
        them together a few times a minute."""
        if policies.is_operator(actor, self.core.config.operators):
            return True
        if not await self.core.claims.claim(f"refusal:{actor.id}", REFUSAL_EVERY_S):
            return False
        minute = self.core.now().strftime("%Y%m%d%H%M")
        return await self.core.claims.tally(f"refusals:{minute}", 120) <= REFUSALS_PER_MINUTE

    async def _current_card(self, err: DeputyError, chat: ChatRef) -> None:
        """A decision on an outdated card changed nothing: show the card as it is now, to decide on that. A word
        that could mean several proposals: show them, each with its buttons."""
        if isinstance(err, StaleVersion) and err.proposal_id:
            proposal = await self.core.store.get_proposal(err.proposal_id)
            if proposal is not None:
                card = Outbound(kind=Kind.CARD, text=proposal.summary, proposal=proposal, task_id=proposal.task_id)
                await self.core.post(chat, card)
        if isinstance(err, Ambiguous):
            found = [await self.core.store.get_proposal(pid) for pid in err.choices[:5]]
            listed = "\n".join(f"  {p.id} · {p.summary.splitlines()[0]}" for p in found if p)
            choose = Outbound(kind=Kind.NOTICE, text=f"Pick one:\n{listed}", proposals=tuple(p for p in found if p))
            await self.core.post(chat, choose)

    async def _release(self, key: str) -> None:
        """Nothing was committed, so the platform's redelivery (or the operator's retry) must be handled
        rather than deduped away."""
        with contextlib.suppress(Exception):
            await self.core.claims.release(key)

    async def click(self, click: Click, answer: Answer) -> None:
        """A button press at most once; the presser always gets one short answer (a toast or an ephemeral
        line), before the card is redrawn: the decision, or — with `refused=True` — why nothing changed."""
        if click.button is buttons.APPROVE_LOW:  # many decisions, each claimed on its own
            await self.approve_low(click, answer)
            return
        key = f"event:{click.chat.platform}:{click.event_id}"
        if not (await self._claim(key, click.delivery))[0] or not await self._answers(click.actor):
            return
        try:
            outcome = await self._run(click.button.press(click))
        except DeputyError as err:
            await answer(str(err), True)
            await self._current_card(err, click.chat)
            return
        except Exception:
            await self._release(key)
            raise
        with contextlib.suppress(Exception):  # a lost toast must not keep the work from being queued
            await answer(str(outcome.value or f"{click.button.label}: done."), False)
        await self._follow(outcome.then)

    async def refuses(self, actor: Actor, answer: Answer) -> bool:
        """For a press an adapter answers itself (Full text, a form to open): True when `actor` is no operator.
        Refused before any work, and told as their messages are — once an hour, a few strangers a minute — so
        a stranger's flood of presses costs a Redis claim each and never a paced post ahead of the operator's."""
        if policies.is_operator(actor, self.core.config.operators):
            return False
        if await self._answers(actor):
            with contextlib.suppress(Exception):
                await answer(policies.not_operator_text(actor), True)
        return True

    async def approve_low(self, click: Click, answer: Answer) -> None:
        """A digest's "Approve all low-risk": each proposal it listed, at the version it showed, once. Each
        approval is its own click (deduped per digest press and proposal), so a second press doubles nothing."""
        entries = await self.core.digests.entries(click.target.id)
        counted = {False: 0, True: 0}

        async def count(text: str, refused: bool) -> None:
            counted[refused] += 1

        for proposal_id, version in entries:
            target = buttons.Target(proposal_id, version=version)
            each = Click(click.actor, click.chat, buttons.APPROVE, target, f"{click.event_id}:{proposal_id}")
            await self.click(each, count)
        approved, skipped = counted[False], counted[True]
        left = f"; {skipped} already decided or not allowed" if skipped else ""
        await answer(f"Approved {approved} low-risk proposal{'s' if approved != 1 else ''}{left}.", approved == 0)

    async def receive_hook(
        self,
        *,
        name: str,
        body: str,
        delivery: str,
        chat: ChatRef,
        drafter: HookDrafter | None = None,
        task_id: str = "",
    ) -> str:
        """A signed inbound webhook starts a task; its body is untrusted data, never parsed as chat words.
        The web route deduped the delivery when it stored it; `delivery` (its key) finds the same task if
        the stored copy is handled twice. `drafter`: the code that drafts a hook's task (the worker's own, given
        the same name and text), run here so its card needs no worker's turn. `task_id`: the id the delivery's
        take reserved for it, when known."""
        text = policies.clean_text(body)[: policies.MAX_REQUEST_CHARS]
        actor = Actor(policies.HOOK, name, f"webhook {name}")
        submit = cmd.SubmitTask(
            text=text,
            actor=actor,
            chat=chat,
            event_id=f"hook-{name}-{delivery}",
            task_key=f"hook:{name}:{delivery}",
            drafted=drafter(name, text) if drafter else None,
            task_id=task_id,
        )
        started: str = await self.handle(submit)
        return started
