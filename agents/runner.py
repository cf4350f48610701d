"""The playbook runner — Deputy's agent: classify → retrieve → draft → verify, then hand the core a proposal
(or a reply). It implements the core's `Drafter` port.

What the model may decide is narrow on purpose: which known playbook fits (validated against the list), and
the text of that playbook's fields (validated by pydantic, then by the playbook's rules: a recipient must come
from the request or memory). The action kind, the risk and who approves come from the playbook and the policy
file, never from model output."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ValidationError, create_model

from agents import prompts
from agents.llm import Call, Meter, Models, ModelUnavailable, parse_json
from agents.offline import inbound_hook
from agents.playbooks import Drafted, Playbook, by_triggers
from agents.prompts import Message
from orchestrator.model import Draft, ProposalDraft, Reply, Task
from orchestrator.ports import Facts

log = logging.getLogger("deputy.agent")

VERIFY_BELOW = 0.7
"""Drafts the model is less sure of than this get the verify pass (so do all high-risk ones)."""


class Verdict(BaseModel):
    ok: bool
    problem: str = ""


@dataclass(frozen=True)
class Tiers:
    draft: str
    verify: str
    offline: bool = False
    """The built-in model: triggers choose the playbook, no classify call."""


class Failed(Exception):
    """A step that can't go on; the message is for the operator."""


class PlaybookRunner:
    def __init__(self, playbooks: dict[str, Playbook], models: Models, facts: Facts, tiers: Tiers) -> None:
        self.playbooks, self.models, self.facts, self.tiers = playbooks, models, facts, tiers

    async def draft(self, task: Task) -> Draft:
        text = task.text.strip()
        if task.actor.platform == "hook":
            return inbound_hook(task.actor.user, text)
        verb, _, rest = text.partition(" ")
        if verb.lower() in ("remember", "recall", "forget"):
            return await self._memory(verb.lower(), rest.strip(), task)
        meter = Meter()
        try:
            playbook = await self._classify(task, text, meter)
            memory = await self._retrieve(playbook, text)
            drafted = await self._draft(task, playbook, text, memory, meter)
            if drafted.question:
                return Reply(drafted.question, ok=False, cost_usd=meter.usd)
            problem = await self._verify(task, playbook, text, memory, drafted, meter)
        except (Failed, ModelUnavailable) as err:
            return Reply(f"I couldn't draft this: {err}. Nothing was staged.", ok=False, cost_usd=meter.usd)
        return self._result(playbook, drafted, problem, meter)

    # ---- steps --------------------------------------------------------------------------------------

    async def _classify(self, task: Task, text: str, meter: Meter) -> Playbook:
        """Free when a trigger of an action playbook matches (or the model is offline); else the model picks
        one of the known names — anything else is refused."""
        found = by_triggers(self.playbooks, text)
        if found is not None and (found.action is not None or self.tiers.offline):
            return found
        names = sorted(self.playbooks)
        answer = await self._json(task, "classify", "draft", prompts.classify(self._menu(), text), meter)
        choice = _choice_model(tuple(names))
        try:
            return self.playbooks[choice.model_validate(answer).playbook]  # type: ignore[attr-defined]
        except ValidationError:
            raise Failed(f"the model picked no known playbook ({', '.join(names)})") from None

    def _menu(self) -> list[Playbook]:
        return [self.playbooks[n] for n in sorted(self.playbooks)]

    async def _retrieve(self, playbook: Playbook, text: str) -> str:
        if "retrieve" not in playbook.spec.steps:
            return ""
        found = await self.facts.recall(text, limit=5)
        return "\n".join(f"[{fid}] {fact}" for fid, fact in found)

    async def _draft(self, task: Task, playbook: Playbook, text: str, memory: str, meter: Meter) -> Drafted:
        """One repair: the model sees what was wrong with its answer and tries once more."""
        messages = prompts.draft(playbook, text, memory)
        answer = await self._ask(task, "draft", "draft", messages, meter)
        try:
            return playbook.check(parse_json(answer), text, memory)
        except ValueError as err:
            if self.tiers.offline:  # deterministic: asking again gets the same answer
                raise Failed(f"the draft was invalid ({err})") from None
            log.info("task %s: draft invalid (%s); asking for one repair", task.id, err)
            messages = prompts.repair(messages, answer, str(err))
        answer = await self._ask(task, "repair", "draft", messages, meter)
        try:
            return playbook.check(parse_json(answer), text, memory)
        except ValueError as err:
            raise Failed(f"the model's draft was invalid twice ({err})") from None

    async def _verify(
        self, task: Task, playbook: Playbook, text: str, memory: str, drafted: Drafted, meter: Meter
    ) -> str:
        """The strong tier, only where it pays: a low-confidence draft or a high-risk playbook."""
        if "verify" not in playbook.spec.steps:
            return ""
        if drafted.confidence >= VERIFY_BELOW and playbook.spec.risk != "high":
            return ""
        messages = prompts.verify(playbook, text, memory, drafted.fields)
        answer = await self._json(task, "verify", "verify", messages, meter)
        try:
            verdict = Verdict.model_validate(answer)
        except ValidationError:
            return "the verifier's answer was unreadable; check the draft yourself"
        return "" if verdict.ok else (verdict.problem.strip()[:300] or "the verifier found a problem")

    def _result(self, playbook: Playbook, drafted: Drafted, problem: str, meter: Meter) -> Draft:
        notes = [f"⚠ Verifier: {problem}"] if problem else []
        notes += [f"⚠ Degraded: {note}" for note in meter.notes]
        if meter.unpriced:
            notes.append(f"({meter.unpriced} model call(s) unpriced: cost unknown)")
        if playbook.action is None:
            answer = "\n".join([str(next(iter(drafted.fields.values()))), *notes])
            return Reply(answer, cost_usd=meter.usd)
        summary = "\n".join([drafted.summary.strip() or f"{playbook.name}: {playbook.spec.description}", *notes])
        return ProposalDraft(
            playbook=playbook.name,
            summary=summary,
            risk=playbook.spec.risk,
            actions=[(playbook.action, playbook.action_fields(drafted.fields))],
            cost_estimate_usd=meter.usd,  # approving costs no model calls: finishing costs what was spent
            cost_spent_usd=meter.usd,
            always_ask=playbook.spec.approval == "ask",
        )

    # ---- model calls --------------------------------------------------------------------------------

    async def _ask(self, task: Task, step: str, tier: str, messages: list[Message], meter: Meter) -> str:
        model = self.tiers.verify if tier == "verify" else self.tiers.draft
        done = await self.models.complete(Call(task.id, step, tier, model, messages))
        meter.add(done)
        return done.text

    async def _json(self, task: Task, step: str, tier: str, messages: list[Message], meter: Meter) -> Any:
        answer = await self._ask(task, step, tier, messages, meter)
        try:
            return parse_json(answer)
        except ValueError as err:
            answer = await self._ask(task, step, tier, prompts.repair(messages, answer, str(err)), meter)
        try:
            return parse_json(answer)
        except ValueError as err:
            raise Failed(f"the model's {step} answer was not JSON twice ({err})") from None

    # ---- memory verbs (no model) ----------------------------------------------------------------------

    async def _memory(self, verb: str, arg: str, task: Task) -> Reply:
        if verb == "remember":
            if not arg:
                return Reply("What should I remember? e.g. /remember ACME pays net 30", ok=False)
            fact_id = await self.facts.remember(arg, source=f"{task.actor.id} in task {task.id}")
            return Reply(f"Remembered ({fact_id}): {arg}")
        if verb == "recall":
            found = await self.facts.recall(arg, limit=5) if arg else []
            if not found:
                return Reply(f"Nothing in memory matches “{arg}”.")
            return Reply("\n".join(f"{fid}: {fact}" for fid, fact in found))
        removed = await self.facts.forget(arg) if arg else None
        if removed is None:
            return Reply(f"No fact with id “{arg}”. /recall <words> shows ids.", ok=False)
        return Reply(f"Forgot {arg}: {removed}")


_CHOICES: dict[tuple[str, ...], type[BaseModel]] = {}


def _choice_model(names: tuple[str, ...]) -> type[BaseModel]:
    """`{"playbook": <one of the names>}`, nothing else."""
    if names not in _CHOICES:
        choice: Any = Literal[names]
        _CHOICES[names] = create_model("Choice", playbook=(choice, ...))
    return _CHOICES[names]
