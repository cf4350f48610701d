"""The scheduler's pass, run every few seconds by `deputy scheduler` (and inside `deputy up`): requests scheduled
for later, reminders and expiry, the daily digest, and liveness alerts. Safe to run in several processes at once:
each request for later moves on once in the shared store, each reminder is a re-checked command, each digest date
is posted under a lease and marked sent, each alert is a flag that flips once."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from orchestrator import commands as cmd
from orchestrator.agenda import Agenda, today
from orchestrator.coordinator import Coordinator
from orchestrator.core import Core
from orchestrator.digest import DigestFacts, compose
from orchestrator.events import Event
from orchestrator.handlers.reminders import due
from orchestrator.model import ChatRef
from orchestrator.outbound import Kind, Outbound
from orchestrator.ports import DigestBook, Ledger, Liveness, Spend
from orchestrator.views import Views, headline

log = logging.getLogger("deputy.scheduler")
CONSOLE = ChatRef("console", "local")
WAITING_NOTICE_S = 60
SHOW_AFTER_S = 20
"""A committed state still unshown this long had its post cut off (a handler posts within seconds, pacing included)."""
WEEK = timedelta(days=7)


@dataclass(frozen=True)
class ScheduleConfig:
    digest_chat: ChatRef
    alert_chats: tuple[ChatRef, ...] = ()
    digest_at: time = time(8, 0)
    timezone: str = "UTC"
    budget_usd: float = 5.0
    platforms: tuple[str, ...] = ()
    late_after: timedelta = timedelta(minutes=5)
    worker_grace: timedelta = timedelta(seconds=60)
    failures_to_alert: int = 3
    lease_seconds: int = 120

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


@dataclass
class Scheduler:
    bus: Coordinator
    ledger: Ledger
    book: DigestBook
    spend: Spend
    liveness: Liveness
    config: ScheduleConfig
    agenda: Agenda | None = None
    """The operator's calendar, for the digest's "On the calendar today"."""
    _no_workers_since: datetime | None = field(default=None, init=False)
    _storage_fault: str = field(default="", init=False)
    _greeted: bool = field(default=False, init=False)
    _told_waiting: bool = field(default=False, init=False)

    @property
    def core(self) -> Core:
        """The ports the scheduler writes through (posts, claims, ids); it reads through `views`."""
        return self.bus.core

    @property
    def views(self) -> Views:
        return self.bus.views

    async def tick(self) -> None:
        steps = (self.waiting_pass, self.show_pass, self.later_pass, self.remind_pass, self.digest_pass)
        for step in (*steps, self.liveness_pass):
            try:
                await step()
            except Exception:
                log.exception("scheduler step %s failed; the next tick retries", step.__name__)

    # ---- after a restart -----------------------------------------------------------------------------

    async def waiting_pass(self) -> None:
        """Once after a start: how many proposals wait, with the first ones' buttons, in the operator's chat.
        Schedulers starting together say it once (a short lease); nothing is said when nothing waits."""
        if self._greeted:
            return
        self._greeted = True
        waiting = await self.views.pending()
        if not waiting or not await self.core.claims.claim("waiting-notice", WAITING_NOTICE_S):
            return
        self._told_waiting = True
        n = len(waiting)
        text = (
            f"{n} proposal{'s' if n != 1 else ''} wait{'' if n != 1 else 's'} for your decision (/status lists them):"
        )
        listed = "\n".join(f"  {p.id} · {headline(p)}" for p in waiting[:3])
        notice = Outbound(kind=Kind.NOTICE, text=f"{text}\n{listed}", proposals=tuple(waiting[:3]))
        await self.core.post(self.config.digest_chat, notice)

    async def stopped(self) -> None:
        """The notice's lease keeps schedulers starting together from saying it twice; a stop gives it back, so a
        start within the minute says it again."""
        if self._told_waiting:
            await self.core.claims.release("waiting-notice")

    # ---- committed means shown -----------------------------------------------------------------------

    async def show_pass(self) -> None:
        """Cards and outcomes committed but never posted (a worker killed in between) reach the chat now; a
        short lease per task keeps schedulers running together from posting one twice."""
        for task_id in await self.core.store.unshown(SHOW_AFTER_S):
            if await self.core.claims.claim(f"reshow:{task_id}", SHOW_AFTER_S):
                await self.bus.handle(cmd.ShowAgain(task_id))
        for key in await self.core.later.unsaid(SHOW_AFTER_S):  # reminders, the same way
            if await self.core.claims.claim(f"resay:{key}", SHOW_AFTER_S):
                await self.bus.handle(cmd.SayReminder(key))

    # ---- later --------------------------------------------------------------------------------------

    async def later_pass(self) -> None:
        """Requests scheduled for later whose time has come (or came while Deputy was down): each runs once,
        however many schedulers find it."""
        for item in await self.core.later.due(self.views.now()):
            await self.bus.handle(cmd.RunLater(item.key))

    # ---- reminders and expiry -----------------------------------------------------------------------

    async def remind_pass(self) -> None:
        now = self.views.now()
        for proposal in await self.views.pending():
            if due(proposal, now):
                await self.bus.handle(cmd.RemindDue(proposal.id))

    # ---- the digest ---------------------------------------------------------------------------------

    async def digest_pass(self) -> None:
        """The most recent digest time that has passed is posted once; after downtime, late and marked so."""
        now = self.views.now()
        scheduled = self._last_scheduled(now)
        if scheduled < await self.book.since(now):
            return  # Deputy was not scheduling then: nothing was missed
        late = now - scheduled if now - scheduled > self.config.late_after else None
        await self.post_once(scheduled.date(), late_by=late)

    async def post_once(self, day: date, *, late_by: timedelta | None = None) -> bool:
        """Post the digest of `day` unless it was: under a lease in the shared store, then marked sent, so
        schedulers and `deputy digest` racing each other post it once. True if this call posted it."""
        key = day.isoformat()
        if await self.book.sent(key) or not await self.core.claims.claim(f"digest:{key}", self.config.lease_seconds):
            return False
        if await self.book.sent(key):  # another scheduler finished between our check and our lease
            return False
        await self.post(self.config.digest_chat, day, late_by=late_by, advance=True)
        await self.book.mark_sent(key)
        return True

    def _last_scheduled(self, now: datetime) -> datetime:
        local = now.astimezone(self.config.zone)
        at = datetime.combine(local.date(), self.config.digest_at, self.config.zone)
        return at if local >= at else at - timedelta(days=1)

    async def post(
        self, chat: ChatRef, day: date, *, late_by: timedelta | None = None, advance: bool = False, reply_to: str = ""
    ) -> None:
        """Build and post a digest; only the scheduled one moves the "since the last digest" cursor."""
        events, cursor = await self._events_since(await self.book.cursor())
        waiting = await self.views.pending()
        week = [await self.spend.day((day - timedelta(days=n)).isoformat()) for n in range(6, -1, -1)]
        outcomes = await self.views.figures(self.views.now() - WEEK)
        _, unsent = await self.views.unsure()
        kinds = {kind: c.traits for kind, c in self.core.connectors.items()}
        cap = await self.spend.cap(day.isoformat())
        clients = await self.views.client_counts(outcomes)
        facts = DigestFacts(day, events, waiting, week[-1], cap, week, late_by, outcomes, unsent, kinds, clients)
        facts = replace(facts, today=await today(self.agenda, day, self.config.timezone))
        digest_id = await self.core.ids.new_id("d")
        low = [(p.id, p.version) for p in waiting if p.risk == "low" and not p.blocked_reason]
        await self.book.save(digest_id, low)
        message = Outbound(
            kind=Kind.DIGEST,
            text=compose(facts),
            proposals=tuple(waiting[:3]),
            ref=digest_id if low else "",
            reply_to=reply_to or None,
            final=True,
        )
        await self.core.post(chat, message)
        await self.book.showed(chat, {p.id: p.version for p in waiting[:3]})
        if advance:
            await self.book.advance(cursor)

    async def _events_since(self, cursor: str) -> tuple[list[Event], str]:
        events: list[Event] = []
        while batch := await self.ledger.read(after=cursor, count=1000):
            events += [event for _, event in batch]
            cursor = batch[-1][0]
        return events, cursor

    async def on_demand(self, c: cmd.PostDigest, core: Core) -> None:
        """/digest: today's digest now, in the chat that asked; the daily one still comes. A handler: the
        composition root routes `PostDigest` here."""
        today = core.clock.now().astimezone(self.config.zone).date()
        await self.post(c.chat, today, reply_to=c.event_id)

    # ---- liveness -----------------------------------------------------------------------------------

    async def liveness_pass(self) -> None:
        if await self._storage():
            return  # the other checks read and write Redis too
        await self._workers()
        for platform in self.config.platforms:
            failures = await self.liveness.failures(platform)
            if failures >= self.config.failures_to_alert and await self.liveness.flag(f"channel:{platform}", True):
                await self._alert(platform, f"Deputy can't deliver to {platform}: the last {failures} attempts failed.")
            elif failures == 0 and await self.liveness.flag(f"channel:{platform}", False):
                await self._alert(platform, f"✅ Deliveries to {platform} work again.", recovered=True)

    async def _workers(self) -> None:
        now = self.views.now()
        if await self.liveness.workers() > 0:
            self._no_workers_since = None
            if await self.liveness.flag("workers", False):
                await self._alert("", "✅ A Deputy worker is running again; queued work continues.", recovered=True)
            return
        self._no_workers_since = self._no_workers_since or now
        if now - self._no_workers_since >= self.config.worker_grace and await self.liveness.flag("workers", True):
            await self._alert("", "No Deputy worker has been seen for a minute: tasks wait. Start one: deputy worker")

    async def _storage(self) -> str:
        """Redis must take writes (an out-of-memory Redis still answers reads): said once when it stops, once
        when it works again. Kept in this process, since Redis may not take the alert's flag."""
        fault = await self.liveness.storage()
        if fault and not self._storage_fault:
            text = f"Redis can't take writes: {fault}. New messages are refused for now (the platforms retry them)."
            await self._alert("console", text)  # the console's messages live in Redis: say it elsewhere
        elif self._storage_fault and not fault:
            await self._alert("console", "✅ Redis takes writes again; Deputy carries on.", recovered=True)
        self._storage_fault = fault
        return fault

    async def _alert(self, failing: str, text: str, *, recovered: bool = False) -> None:
        """To the first configured chat that is not the failing channel; the console stream otherwise."""
        log.warning(text)
        chat = next((c for c in self.config.alert_chats if c.platform != failing), CONSOLE)
        await self.core.post(chat, Outbound(kind=Kind.NOTICE if recovered else Kind.ERROR, text=text))
