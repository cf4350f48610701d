"""The playbook runner — Deputy's agent: classify → retrieve → draft → verify, then hand the core a proposal
(or a reply). It implements the core's `Drafter` port.

What the model may decide is narrow on purpose: which known playbook fits (validated against the list), and
the text of that playbook's fields (validated by pydantic, then by the playbook's rules: a recipient must come
from the request or memory). The action kind, the risk and who approves come from the playbook and the policy
file, never from model output."""

from __future__ import annotations

import contextlib
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from functools import partial
from typing import Any, Literal
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ValidationError, create_model

from agents import agenda, inbox_reply, progress, prompts
from agents.known import named
from agents.llm import Call, Meter, Models, parse_json
from agents.memory_words import memory_verb
from agents.offline import inbound_hook
from agents.playbooks import INBOX, Drafted, Playbook, by_triggers
from agents.prompts import Message
from agents.schemas import Schema
from memory.records import Recalled, RedisMemory
from memory.working import RedisWorkingSet
from orchestrator.actors import MemoryWord
from orchestrator.agenda import Agenda
from orchestrator.errors import DeputyError, DraftError, DraftInvalid, ModelPaused, ModelUnavailable
from orchestrator.model import Draft, Proposal, ProposalDraft, Reply, Task
from orchestrator.ports import RecordBook

log = logging.getLogger("deputy.agent")

_REFERS_BACK = re.compile(r"\b(?:it|her|him|them|that|this|those|instead|same|again|previous|last one)\b", re.I)
VERIFY_BELOW = 0.7
"""Drafts the model is less sure of than this get the verify pass (so do all high-risk ones)."""
TOKENS = {"classify": 60, "verify": 300}
"""`max_tokens` per step: a playbook's name or a verdict is a few tokens, and a model that rambles stops soon."""
MAX_TOKENS = 16_384
"""The most any step may ask for, a retry after a cut-off answer included."""
FLOOR = 1000
"""The least room a draft is asked with when today's budget can't cover its full room."""


Checker = Callable[[Any], Drafted]
"""A playbook's `check` bound to the request and memory a draft may draw on."""


class Verdict(BaseModel):
    ok: bool
    problem: str = ""


@dataclass(frozen=True)
class Tiers:
    draft: str
    verify: str
    offline: bool = False
    """The built-in model: triggers choose the playbook, no classify call."""


@dataclass(frozen=True)
class Local:
    """The operator's clock and time zone (DEPUTY_TIMEZONE), for playbooks whose prompt says the time."""

    now: Callable[[], datetime] = lambda: datetime.now(UTC)
    timezone: str = "UTC"

    def text(self) -> str:
        local = self.now().astimezone(ZoneInfo(self.timezone))
        return f"{local.isoformat(timespec='seconds')} ({local:%A}, {self.timezone})"


class PlaybookRunner:
    def __init__(
        self,
        playbooks: dict[str, Playbook],
        models: Models,
        memory: RedisMemory,
        working: RedisWorkingSet,
        tiers: Tiers,
        local: Local | None = None,
        book: RecordBook | None = None,
        calendar: Agenda | None = None,
    ) -> None:
        self.playbooks, self.models, self.memory, self.working, self.tiers = playbooks, models, memory, working, tiers
        self.local = local or Local()
        self.book = book
        """Clients and projects: the ones a request names come first in what a draft may draw on."""
        self.calendar = calendar  # the coming week's events, for playbooks with `calendar: true`

    async def draft(self, task: Task) -> Draft:
        text = task.text.strip()
        if task.actor.platform == "hook":
            return await self._hook(task, text)
        chat = f"{task.chat.platform}:{task.chat.chat}"
        recent = ""
        if _REFERS_BACK.search(text):  # only then: the conversation would make every prompt unique (no cache)
            recent = "\n".join(f"{t.role}: {t.text}" for t in await self.working.recent(chat))
        async with self.working.alongside(chat, self.models.account) as turns:  # one write with the accounting
            if task.memory is not None:
                result: Draft = await memory_verb(self.memory, task.memory, task)
            else:
                result = await self._run(task, text, recent)
            turns += [("operator", text), ("deputy", _said(result))]
        return result

    async def redraft(self, task: Task) -> Draft:
        """A shadow run's draft of a past request: the steps `draft` takes, leaving nothing behind — no turn in the
        working set, and of the memory verbs only /recall (it reads). The conversation before the request is not
        replayed; memory is read as it is now. An inbox email's reply is drafted as `draft` drafts it (by the model
        being compared, when it has one)."""
        text = task.text.strip()
        if task.actor.platform == "hook":
            return await self._hook(task, text)
        if task.memory is not None and task.memory.word is MemoryWord.RECALL:
            return await memory_verb(self.memory, task.memory, task)
        return await self._run(task, text, "")

    async def _hook(self, task: Task, text: str) -> Draft:
        """A hook's draft is code's (agents/offline.py); with a real model, the body of an inbox email's reply is the
        model's, in the inbox playbook's shape, and nothing else of its answer (agents/inbox_reply.py)."""
        drafted, playbook = inbound_hook(task.actor.user, text), self.playbooks.get(INBOX)
        template = inbox_reply.wanted(task.actor.user, drafted)
        if self.tiers.offline or playbook is None or template is None:
            return drafted
        meter = Meter()
        try:
            email = inbox_reply.request(text)
            used = await self._retrieve(playbook, email)
            memory = prompts.memory_block([(r.record.id, r.record.text) for r in used])
            filled = await self._draft(task, playbook, email, memory, "", meter)
        except DeputyError as err:  # an error, the budget, a paused provider, a draft invalid twice: the template
            return inbox_reply.unmodelled(template, str(err), meter)
        return inbox_reply.modelled(template, filled, meter, self._notes(meter, used))

    async def revise(self, task: Task, proposal: Proposal, feedback: str) -> Draft:
        """The proposal drafted again with the operator's feedback: its playbook's prompt and schema with the current
        draft (edits included) and the feedback, one repair, the same validation — a recipient may come from the
        request, memory, the draft or the feedback — and the same kinds of action. A reply says why not."""
        meter, playbook = Meter(), self.playbooks.get(proposal.playbook)
        if playbook is None or playbook.action is None:
            return Reply(f"there is no playbook {proposal.playbook!r} here to revise it with", ok=False)
        text = inbox_reply.as_request(playbook.name, task.text)  # an email: as its first draft's prompt had it
        try:
            current = playbook.drafted_fields([(a.kind, a.fields) for a in proposal.actions])
            used = await self._retrieve(playbook, text)
            memory = prompts.memory_block([(r.record.id, r.record.text) for r in used])
            previous = {"summary": proposal.summary.splitlines()[0], "fields": current}
            messages = prompts.revise(playbook, text, memory, previous, feedback, self.local.text())
            known = "\n".join([text, feedback, *map(str, current.values())])
            check = partial(playbook.check, request=known, memory=memory)
            room = draft_tokens(playbook)
            drafted = await self._drafted(task, "revise", messages, playbook.draft_model, check, meter, room)
        except (DraftError, DraftInvalid, ModelUnavailable) as err:
            return Reply(str(err), ok=False, cost_usd=meter.usd)
        if drafted.question:
            return Reply(drafted.question, ok=False, cost_usd=meter.usd)
        if _same(drafted.fields, current):  # staged as "v2 · revised", it would be approved as if changed
            return Reply("the model made no change; try saying it differently", ok=False, cost_usd=meter.usd)
        if playbook.name == INBOX:  # the card's summary is code's, never the model's
            drafted = replace(drafted, summary="")
        result = inbox_reply.revised(playbook.name, self._result(playbook, drafted, "", meter, used), proposal)
        return await agenda.warned(self.calendar, result, self.local.timezone)

    async def _run(self, task: Task, text: str, recent: str) -> Draft:
        meter = Meter()
        try:
            playbook = await self._classify(task, text, meter)
            used = await self._retrieve(playbook, text)
            memory = prompts.memory_block([(r.record.id, r.record.text) for r in used])
            drafted = await self._draft(task, playbook, text, memory, recent, meter)
            if drafted.question:
                return Reply(drafted.question, ok=False, cost_usd=meter.usd)
            problem = await self._verify(task, playbook, text, memory, drafted, meter)
        except ModelPaused:  # the task waits for the provider's breaker and drafts again then (agents/jobs.py)
            raise
        except (DraftError, ModelUnavailable) as err:
            return Reply(f"I couldn't draft this: {err}. Nothing was staged.", ok=False, cost_usd=meter.usd)
        return await agenda.warned(
            self.calendar, self._result(playbook, drafted, problem, meter, used), self.local.timezone
        )

    def warm(self) -> None:
        """Build the validators once, in the worker before it forks, not in every work horse (pydantic
        compiles a schema per model: milliseconds each)."""
        for playbook in self.playbooks.values():
            _ = playbook.draft_model
            playbook.triggered_by("warm up")  # compiles its patterns into re's cache
            offline = getattr(self.models.transport("offline"), "model", None)
            if offline is not None:  # the built-in model's parsing, on the prompt shapes it will see
                answer = offline.answer(prompts.draft(playbook, "email sam@example.com about x", "[m1] Sam", ""))
                with contextlib.suppress(DraftInvalid):
                    playbook.check(answer, "email sam@example.com about x", "[m1] Sam")
        _choice_model(tuple(p.name for p in self._menu()))

    # ---- steps --------------------------------------------------------------------------------------

    async def _classify(self, task: Task, text: str, meter: Meter) -> Playbook:
        """Free when a trigger of an action playbook matches (or the model is offline); else the model picks
        one of the known names — anything else is refused."""
        found = by_triggers(self.playbooks, text)
        if found is not None and (found.action is not None or self.tiers.offline):
            return found
        names = [p.name for p in self._menu()]
        choice = _choice_model(tuple(names))
        answer = await self._json(task, "classify", "draft", prompts.classify(self._menu(), text), meter, choice)
        try:
            return self.playbooks[choice.model_validate(answer).playbook]  # type: ignore[attr-defined]
        except ValidationError:
            raise DraftError(f"the model picked no known playbook ({', '.join(names)})") from None

    def _menu(self) -> list[Playbook]:
        """What a chat request may be drafted with: every playbook but the inbox's."""
        return [self.playbooks[n] for n in sorted(self.playbooks) if self.playbooks[n].chat]

    async def _retrieve(self, playbook: Playbook, text: str) -> list[Recalled]:
        """Only records above the relevance floor: a weak match is not used (the draft asks instead)."""
        if "retrieve" not in playbook.spec.steps:
            return []
        records = await named(self.book, text) if self.book is not None else []
        if playbook.spec.calendar:
            records += await agenda.records(self.calendar, self.local.now(), self.local.timezone)
        seen = {r.record.id for r in records}  # a record the request names by a key, recall may find again
        found = [r for r in await self.memory.recall(text, limit=5) if r.record.id not in seen]
        seen |= {r.record.id for r in found}
        for entity in _entities(text, found):  # then what memory says about who is involved (their company)
            for extra in await self.memory.recall(entity, limit=2):
                if extra.record.id not in seen:
                    seen.add(extra.record.id)
                    found.append(extra)
        return [*records, *found[:6]]

    async def _draft(
        self, task: Task, playbook: Playbook, text: str, memory: str, recent: str, meter: Meter
    ) -> Drafted:
        messages = prompts.draft(playbook, text, memory, recent, self.local.text())
        check = partial(playbook.check, request=text, memory=memory, recent=recent)
        return await self._drafted(task, "draft", messages, playbook.draft_model, check, meter, draft_tokens(playbook))

    async def _drafted(
        self, task: Task, step: str, messages: list[Message], schema: Schema, check: Checker, meter: Meter, room: int
    ) -> Drafted:
        """A step whose answer is a playbook's draft (`draft`, `revise`): the playbook's schema goes with it, and one
        repair — the model sees what was wrong with its answer and tries once more."""
        answer = await self._ask(task, step, "draft", messages, meter, schema, room)
        try:
            return check(parse_json(answer))
        except DraftInvalid as err:
            if self.tiers.offline:  # deterministic: asking again gets the same answer
                raise DraftError(f"the draft was invalid ({err})") from None
            log.info("task %s: %s invalid (%s); asking for one repair", task.id, step, err)
            messages = prompts.repair(messages, answer, str(err))
        answer = await self._ask(task, "repair", "draft", messages, meter, schema, room)
        try:
            return check(parse_json(answer))
        except DraftInvalid as err:
            raise DraftError(f"the model's draft was invalid twice ({err})") from None

    async def _verify(
        self, task: Task, playbook: Playbook, text: str, memory: str, drafted: Drafted, meter: Meter
    ) -> str:
        """The strong tier, only where it pays: a low-confidence draft or a high-risk playbook."""
        if "verify" not in playbook.spec.steps:
            return ""
        if drafted.confidence >= VERIFY_BELOW and playbook.spec.risk != "high":
            return ""
        messages = prompts.verify(playbook, text, memory, drafted.fields)
        answer = await self._json(task, "verify", "verify", messages, meter, Verdict)
        try:
            verdict = Verdict.model_validate(answer)
        except ValidationError:
            return "the verifier's answer was unreadable; check the draft yourself"
        return "" if verdict.ok else (verdict.problem.strip()[:300] or "the verifier found a problem")

    def _result(self, playbook: Playbook, drafted: Drafted, problem: str, meter: Meter, used: list[Recalled]) -> Draft:
        answer = str(next(iter(drafted.fields.values()), "")) if playbook.action is None else ""
        if answer:  # an answer that already gives a fact needs no note saying it again
            used = [r for r in used if not _quotes(answer, r.record.text)]
        notes = [f"⚠ Verifier: {problem}"] if problem else []
        notes += self._notes(meter, used)
        if playbook.action is None:
            return Reply("\n".join([answer, *notes]), cost_usd=meter.usd)
        summary = "\n".join([drafted.summary.strip() or f"{playbook.name}: {playbook.spec.description}", *notes])
        return ProposalDraft(
            playbook=playbook.name,
            summary=summary,
            risk=playbook.spec.risk,
            actions=playbook.staged(drafted.fields),
            cost_estimate_usd=meter.usd,  # approving costs no model calls: finishing costs what was spent
            cost_spent_usd=meter.usd,
            always_ask=playbook.spec.approval == "ask",
            flagged=bool(problem),
        )

    @staticmethod
    def _notes(meter: Meter, used: list[Recalled]) -> list[str]:
        """The card's lines under the summary: what it drew on, and how the model calls went."""
        notes = [f"📎 from: {r.record.cite()}" for r in [u for u in used if u.record.kind != "event"][:3]]
        notes += [f"⚠ Degraded: {note}" for note in meter.notes]
        return notes + ([f"({meter.unpriced} model call(s) unpriced: cost unknown)"] if meter.unpriced else [])

    # ---- model calls --------------------------------------------------------------------------------

    async def _ask(
        self, task: Task, step: str, tier: str, messages: list[Message], meter: Meter, schema: Schema, room: int = 0
    ) -> str:
        """Every step expects JSON in its schema's shape: sent as a JSON schema where the model takes one. An answer
        cut at `max_tokens` is not bad JSON to repair: it is asked for once more with twice the room."""
        model = self.tiers.verify if tier == "verify" else self.tiers.draft
        room = room or TOKENS.get(step, 1000)
        least = min(room, FLOOR)
        ask = Call(task.id, step, tier, model, messages, max_tokens=room, min_tokens=least, schema=schema)
        if not self.tiers.offline:  # the built-in model answers at once: its task keeps "Drafting…"
            await progress.current().step(step, model)
        done = await self.models.complete(ask)
        meter.add(done)
        if done.finish != "length":
            return done.text
        more = min(MAX_TOKENS, room * 2)
        if more > room:
            done = await self.models.complete(
                Call(task.id, step, tier, model, messages, max_tokens=more, schema=schema)
            )
            meter.add(done)
        if done.finish == "length":
            raise DraftError(f"the model stopped at its length limit ({more} tokens) before its {step} answer was done")
        return done.text

    async def _json(
        self, task: Task, step: str, tier: str, messages: list[Message], meter: Meter, schema: Schema
    ) -> Any:
        answer = await self._ask(task, step, tier, messages, meter, schema)
        try:
            return parse_json(answer)
        except DraftInvalid as err:
            answer = await self._ask(task, step, tier, prompts.repair(messages, answer, str(err)), meter, schema)
        try:
            return parse_json(answer)
        except DraftInvalid as err:
            raise DraftError(f"the model's {step} answer was not JSON twice ({err})") from None


def draft_tokens(playbook: Playbook) -> int:
    """Room for a draft: its fields at their longest (three characters a token, JSON escapes included) plus the
    summary and the keys."""
    return min(MAX_TOKENS, 300 + sum(f.max for f in playbook.spec.fields.values()) // 3)


def _same(fields: dict[str, Any], current: dict[str, Any]) -> bool:
    """The same draft, whitespace at the ends aside."""

    def norm(values: dict[str, Any]) -> dict[str, str]:
        return {k: str(v).strip() for k, v in values.items()}

    return norm(fields) == norm(current)


def _entities(text: str, found: list[Recalled]) -> list[str]:
    """The companies behind the addresses in the request and in what was recalled (`jane@acme.com` → acme)."""
    addresses = re.findall(r"[\w.+-]+@([\w-]+)\.", " ".join([text, *(r.record.text for r in found)]))
    return sorted({a.lower() for a in addresses})[:3]


def _quotes(answer: str, fact: str) -> bool:
    """The answer already says the fact, word for word (case and spacing aside)."""
    said = " ".join(fact.split()).casefold()
    return bool(said) and said in " ".join(answer.split()).casefold()


def _said(result: Draft) -> str:
    """Deputy's turn in the working set: what it drafted, in words a follow-up can refer to."""
    if isinstance(result, Reply):
        return result.text[:500]
    parts = [result.summary.splitlines()[0]]
    for kind, fields in result.actions:
        parts.append(f"{kind} " + ", ".join(f"{k}={v}" for k, v in fields.items() if k in ("to", "subject", "name")))
    return " · ".join(parts)


_CHOICES: dict[tuple[str, ...], type[BaseModel]] = {}


def _choice_model(names: tuple[str, ...]) -> type[BaseModel]:
    """`{"playbook": <one of the names>}`, nothing else."""
    if names not in _CHOICES:
        choice: Any = Literal[names]
        _CHOICES[names] = create_model("Choice", playbook=(choice, ...))
    return _CHOICES[names]
