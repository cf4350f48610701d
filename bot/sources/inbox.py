"""The inbox source (DEPUTY_IMAP_URL): each email that arrives in a watched folder is stored once, triaged once
and, when it needs a reply, becomes a task whose card holds a reply drafted in its thread.

One loop per folder, in every web process (any number may run: the claims decide who takes an email). The
folder is opened read-only (EXAMINE) and read with BODY.PEEK, so nothing Deputy reads changes the mailbox. New
mail is waited for in IDLE, ended and issued again every two minutes (after any IDLE that ended, the next is
SETTLE_S); without IDLE, or between IDLEs, the folder is searched for UIDs past the cursor. The first connection
takes only mail newer than DEPUTY_IMAP_SINCE.

Each email goes in through `bot.sources.take` with two dedupe claims kept for good — (folder, UIDVALIDITY, UID)
and its Message-ID — so a restart, a second process or a UIDVALIDITY change (after which every email since the
first connection is looked at again) takes it once. It is triaged before it is stored, and its triage and
`EmailReceived` are written in that same write (memory/mail.py `kept`): one fsync per email, never a stored email
without its triage. Behind it, when the policies file says it is one to card at once ("needs reply" by default),
its task starts."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiohttp import web
from redis.exceptions import RedisError

from agents import triage
from agents.offline import inbound_hook as draft
from bot.channels import Mount
from bot.ingress import Handler
from bot.sources import Taken, take
from connectors import imap, mime
from memory import codec, keys
from memory.inbox import Entry, Kept
from memory.mail import MailStore, id_claim, kept, uid_claim
from orchestrator.policies import card_rule

log = logging.getLogger("deputy.inbox")
KIND = "email"
NAME = triage.INBOX
BACKOFF_S = (0.2, 0.5, 1.0, 2.0, 5.0, 15.0, 30.0)
STOP_S = 5.0
"""At a stop, how long the folder loops get to hang up."""
CURSOR_EVERY = 50
"""The cursor moves after this many emails (and at the end of a catch-up): after a crash, at most these are
looked at again, and their claims turn them away."""
SETTLE_S = 2.0
"""After an IDLE that ended (news, another change such as a flag set by a reply sent, or the renewal) the next one
lasts this long, then the folder is searched once more; only a short one that heard nothing is followed by a long
one. Some servers (pymap) tell in IDLE only of mail that comes after it started, not of mail that came between the
last search's answer and the IDLE, which would wait for the renewal (IDLE_RENEW_S) instead of seconds."""
NEWS_MAX = 10
"""Told of new mail in IDLE, the next this many UIDs are fetched at once, without a search first."""
BATCH = 10
"""A catch-up asks which of this many UIDs are new and fetches those in one round trip each: a backlog costs two
round trips per ten emails besides their writes, not two per email, and holds at most ten fetched at once."""
NEWS_WAIT_S = 5.0
"""And the loop waits this long at most for their handling before it searches for anything else."""
BODY_MAX = 7500
"""The stored item is the task's text, which is cut at 8,000 characters: it must stay whole JSON."""


@dataclass(frozen=True)
class Values:
    imap_url: str | None = None
    imap_since: str = "3d"
    email_from: str | None = None
    data_dir: Path = Path(".deputy")
    """Where the operator's own inbox playbook (its `triage:` rules) may be: `playbooks/inbox.yaml`."""
    llm_model: str = "offline"
    """Not the offline model: a reply is drafted by the model, on a worker (agents/inbox_reply.py)."""


class Folder:
    """One watched folder: connect, catch up, wait for news, catch up again; reconnect after any failure."""

    def __init__(self, target: imap.ImapTarget, folder: str, values: Values, at: Mount) -> None:
        self.target, self.folder, self.values, self.at = target, folder, values, at
        self.mail = MailStore(at.redis)
        self.high = 0
        """The highest UID the current session has looked at, and every one below it."""
        self.me = {a.lower() for a in (target.user, values.email_from or "") if "@" in a}
        """Our own addresses: never among those a reply all would copy."""

    async def run(self) -> None:
        failures = 0
        while True:
            try:
                session = await imap.Session.open(self.target)
            except imap.ImapError as err:
                failures = await self._failed(err, failures)
                continue
            try:
                failures = 0
                await self.watch(session)
            except (imap.ImapError, RedisError) as err:
                failures = await self._failed(err, failures)
            finally:
                await session.close()

    async def _failed(self, err: Exception, failures: int) -> int:
        log.warning("inbox %s at %s: %s", self.folder, self.target.where, codec.text(str(err)))
        await asyncio.sleep(BACKOFF_S[min(failures, len(BACKOFF_S) - 1)])
        return failures + 1

    async def caught_up(self, session: imap.Session, validity: int) -> None:
        """Catch up until a search finds nothing new and no answer since told of new mail: mail that arrives
        while a command runs is announced in that command's answer (a SEARCH that already missed it), once, and
        IDLE won't announce it again."""
        while True:
            session.announced = False
            if not await self.catch_up(session, validity) and not session.announced:
                return

    async def watch(self, session: imap.Session) -> None:
        validity = await session.examine(self.folder)
        idle = session.has("IDLE")
        log.debug("inbox %s: open (UIDVALIDITY %s, IDLE %s)", self.folder, validity, idle)
        self.high = 0
        short = True
        while True:
            await self.caught_up(session, validity)
            if idle:
                idled = await session.idle(SETTLE_S if short else imap.IDLE_RENEW_S)
                log.debug("inbox %s: IDLE ended (%s)", self.folder, idled.value)
                if idled is imap.Idled.NEWS:
                    await self.news(session, validity)
                short = not (short and idled is imap.Idled.QUIET)  # long only after a short one that heard nothing
            else:
                await asyncio.sleep(imap.POLL_S)
                await session.ok("NOOP", session.client.noop())

    async def news(self, session: imap.Session, validity: int) -> None:
        """Told of new mail: the UIDs after the highest this session has looked at are fetched at once, without a
        search (a round trip less before the card). The catch-up that follows searches for anything this missed
        (more than NEWS_MAX at once, a gap in the UIDs) once their handling is done, so it doesn't slow it."""
        if not self.high:
            return
        fetched = await session.fetch_range(self.high + 1, self.high + NEWS_MAX, mime.FETCH_MAX)
        started = []
        for uid, raw, size in fetched:
            started.append((await self.take(validity, uid, raw, size)).entry)
            self.high = uid
        await self.at.ingress.finished(started, NEWS_WAIT_S)
        if fetched:
            await self.mail.advance(self.folder, validity, fetched[-1][0])

    async def catch_up(self, session: imap.Session, validity: int) -> int:
        """Every UID past the cursor (or, the first time under this UIDVALIDITY, since the first connection)."""
        cursor = await self.mail.cursor(self.folder, validity)
        if cursor is None:
            since = await self.mail.first_since(self.folder, imap.since_date(self.values.imap_since).isoformat())
            uids = await session.uids("SINCE", imap.imap_date(since))
        else:
            cursor = self.high = max(cursor, self.high)  # every UID up to either was looked at
            uids = [u for u in await session.uids("UID", f"{cursor + 1}:*") if u > cursor]
        log.debug("inbox %s: past %s, found %s", self.folder, cursor, uids)
        for n in range(0, len(uids), BATCH):
            batch = uids[n : n + BATCH]
            fresh = await self.mail.untaken(self.folder, validity, batch)
            for uid, raw, size in await session.fetch_many(fresh, mime.FETCH_MAX):
                await self.take(validity, uid, raw, size)
            self.high = max(self.high, batch[-1])
            looked = n + len(batch)
            if looked % CURSOR_EVERY == 0 or looked == len(uids):  # a write is an fsync: the claims make it once
                await self.mail.advance(self.folder, validity, batch[-1])
        return len(uids)  # looked at, whether this process took them or another had

    async def take(self, validity: int, uid: int, raw: bytes, size: int) -> Taken:
        """Stored once with its triage: the claims, the item (sorted already) and its record (`EmailReceived`)
        in one write, so what is behind it only starts the task of an email to card now."""
        found = mime.parse(raw, size=size)
        mid = id_claim(found.message_id, raw[:4096])
        delivery = mid.rsplit(":", 1)[1]
        item = self.item(found, validity, uid)
        await sort(self.at, self.values, item)
        stored = {"name": NAME, "body": fit(item), "delivery": delivery}
        dedupe = [uid_claim(self.folder, validity, uid), mid]
        now = self.at.coordinator.core.now()

        def record(task: str) -> Kept:
            return kept(delivery, item, task_id=task, at=now)

        return await take(self.at.ingress, KIND, stored, dedupe=dedupe, ttl=0, kept=record)

    def item(self, found: mime.Mail, validity: int, uid: int) -> dict[str, Any]:
        others = [a for a in [*found.to, *found.cc] if a not in self.me and a != found.sender]
        return {"folder": self.folder, "uidvalidity": validity, "uid": uid, "others": others, "mail": found.as_dict()}


def fit(data: dict[str, Any]) -> str:
    """The item as JSON that fits the task's text: the text, then the attachment list, cut until it does."""
    body = json.dumps(data, ensure_ascii=False)
    while len(body) > BODY_MAX:
        mail = data["mail"]
        if len(mail["text"]) > 200:
            mail["text"] = mail["text"][: len(mail["text"]) // 2] + "…"
        elif mail["attachments"]:
            mail["attachments"] = mail["attachments"][: len(mail["attachments"]) // 2]
        else:
            data["others"] = data["others"][:5]
            mail["to"], mail["cc"], mail["references"] = mail["to"][:5], mail["cc"][:5], ""
            return json.dumps(data, ensure_ascii=False)[:BODY_MAX]
        body = json.dumps(data, ensure_ascii=False)
    return body


def received(at: Mount, values: Values) -> Handler:
    """Behind the ack: when a rule of the policies file's `inbox: card_now:` matched (by default: it needs a reply),
    start the task that makes its card: drafted here, at once, by code; or, for a reply with a real model
    configured, by a worker. (An item stored by an earlier version is sorted and recorded here first.)"""
    store = MailStore(at.redis)
    offline = values.llm_model == "offline"
    triage.rules(values.data_dir, frozenset(at.coordinator.core.connectors))  # a file broken later keeps these

    async def handle(entry: Entry) -> None:
        fields = entry.fields
        item, body = json.loads(fields["body"]), fields["body"]
        if "triage" not in item:
            body = await sort_and_record(at, values, store, item, fields)
        if item["card"]:
            coded = offline or item["triage"] != triage.REPLY
            await at.coordinator.receive_hook(
                name=NAME,
                body=body,
                delivery=fields["delivery"],
                chat=at.report_to,
                drafter=draft if coded else None,
                task_id=fields.get("task", ""),
            )

    return handle


async def sort(at: Mount, values: Values, item: dict[str, Any]) -> None:
    """Its triage (the inbox playbook's rules), its sender's client record, and which `card_now` rule, if any,
    cards it at once."""
    sender = str(item["mail"].get("sender", ""))
    kinds = frozenset(at.coordinator.core.connectors)
    item["triage"] = triage.triage(item["mail"], triage.rules(values.data_dir, kinds))
    item["client"] = await client_of(at, sender)
    rules = at.coordinator.core.config.policies.card_now
    item["card"] = card_rule(rules, item["triage"], client=bool(item["client"]), sender=sender) or ""


async def sort_and_record(
    at: Mount, values: Values, store: MailStore, item: dict[str, Any], fields: dict[str, str]
) -> str:
    """An item an earlier version stored unsorted: sorted and recorded now, once; its body as the task gets it."""
    await sort(at, values, item)
    task_key = f"hook:{NAME}:{fields['delivery']}"
    task_id = fields.get("task") or codec.text(await at.redis.get(keys.id_for(task_key))) or ""
    await store.record(fields["delivery"], item, task_id=task_id, at=at.coordinator.core.now())
    return json.dumps(item, ensure_ascii=False)


async def client_of(at: Mount, sender: str) -> str:
    """The client or project record the sender's address (else domain) names: "Acme Corp (c1)", or ''."""
    book = at.coordinator.core.book
    if "@" not in sender:
        return ""
    found = await book.resolve([f"email:{sender}", f"domain:{sender.rpartition('@')[2]}"])
    return f"{found[0].name} ({found[0].id})" if len(found) == 1 else ""


class Inbox:
    """Configured by DEPUTY_IMAP_URL; no routes, one loop per folder in the app's `cleanup_ctx`."""

    name, paths, values = "inbox", (), Values

    def configured(self, values: Any) -> bool:
        return bool(values.imap_url)

    def start(self, app: web.Application, values: Any, at: Mount) -> None:
        at.ingress.handle(KIND, received(at, values))
        target = imap.ImapTarget.parse(values.imap_url)
        folders = [Folder(target, name, values, at) for name in target.folders]
        app[FOLDERS] = folders

        async def watching(_: web.Application) -> AsyncIterator[None]:
            tasks = [asyncio.create_task(f.run(), name=f"inbox {f.folder}") for f in folders]
            yield
            for task in tasks:
                task.cancel()
            if tasks:  # bounded: a stop must not wait on a connection that never answers a cancelled command
                await asyncio.wait(tasks, timeout=STOP_S)

        app.cleanup_ctx.append(watching)


FOLDERS: web.AppKey[list[Folder]] = web.AppKey("inbox_folders", list)
SOURCE = Inbox()
