"""Shadow runs: past requests from the ledger drafted again through the real agent path — with other playbooks or
another model — and compared with the agent's first draft then, and with what the operator approved.

Nothing happens in the world or the state: the runner's `redraft` writes no working-set turn and replays no
memory verb, "staging" here is only each connector's validation and preview (no record, no card, no event),
and nothing is applied or posted. The model calls are real spend: they are budgeted, counted in today's spend
under their model (`/budget`) and appear in the ledger as `ModelCalled` marked `shadow`. A call the budget
refuses stops the run, which says so."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from difflib import SequenceMatcher
from itertools import zip_longest
from typing import Any

from redis.asyncio import Redis

from agents.runner import PlaybookRunner
from memory import codec, keys
from memory.ledger import RedisLedger
from orchestrator.actors import MemoryWord
from orchestrator.errors import BadRequest, BudgetExceeded, ModelPaused
from orchestrator.events import Event
from orchestrator.model import Draft, Proposal, Reply, StagedAction, Task, Verdict
from orchestrator.stats import VERIFIER

Stage = Callable[[str, dict[str, Any]], StagedAction]
"""An action as its connector validates and previews it (`Core.stage`), or `BadRequest`."""
Progress = Callable[[int, int], None]
REACHED = frozenset({"ProposalStaged", "TaskReplied"})
"""Requests worth replaying: those that reached a proposal or a reply (not the failed ones)."""
CHANGES_MEMORY = frozenset({MemoryWord.REMEMBER, MemoryWord.FORGET})
LOAD_BATCH = 500
FAILED = "couldn't draft"
"""Not a difference: the model failed now (no key, unreachable); the row says why, apart from what differs."""
RANK = {FAILED: 4, "playbook": 3, "action kind": 2, "recipient": 1, "": 0}
"""How bad a difference is: the worst are shown first."""


@dataclass(frozen=True)
class Past:
    """A past request, its proposal (None for a reply) and what its drafting cost then."""

    task: Task
    proposal: Proposal | None
    cost_usd: float


@dataclass(frozen=True)
class Side:
    """A draft as compared: its playbook ('' for a reply), each action's kind and recipient or target, the texts
    similarity reads (subject and body, else all fields), and whether the verifier doubted it."""

    playbook: str
    actions: tuple[tuple[str, str], ...] = ()
    texts: tuple[str, ...] = ()
    flagged: bool = False
    reply: str = ""
    failed: bool = False

    def as_json(self) -> dict[str, Any]:
        shown: dict[str, Any] = {
            "playbook": self.playbook,
            "actions": [{"kind": kind, "to": to} for kind, to in self.actions],
            "flagged": self.flagged,
        }
        return shown | ({"reply": self.reply} if not self.actions else {})


def side_of(playbook: str, actions: Iterable[StagedAction], *, flagged: bool = False) -> Side:
    staged = list(actions)
    return Side(playbook, tuple((a.kind, a.target) for a in staged), tuple(_text(a.fields) for a in staged), flagged)


def _text(fields: dict[str, Any]) -> str:
    if "subject" in fields or "body" in fields:
        return f"{fields.get('subject', '')}\n{fields.get('body', '')}"
    return json.dumps(fields, sort_keys=True, ensure_ascii=False)


def _reply(text: str, *, failed: bool = False) -> Side:
    return Side("", texts=(text,), reply=text, failed=failed)


def then_side(past: Past) -> Side:
    """The agent's first draft: what it staged before any /edit (a proposal staged before Deputy kept that shows
    its actions as they are), or the reply it gave."""
    proposal = past.proposal
    if proposal is None:
        return _reply(past.task.reply)
    flagged = proposal.flagged or VERIFIER in proposal.summary
    return side_of(proposal.playbook, proposal.drafted or proposal.actions, flagged=flagged)


def approved_side(past: Past) -> Side | None:
    """What the operator finally approved (their edits included), if they approved it."""
    proposal = past.proposal
    if proposal is None or proposal.decision is None or proposal.decision.verdict is not Verdict.APPROVE:
        return None
    return side_of(proposal.playbook, proposal.actions, flagged=proposal.flagged)


def now_side(draft: Draft, stage: Stage) -> Side:
    """What staging the new draft would show; a draft its connectors refuse stages nothing, as in a live run."""
    if isinstance(draft, Reply):
        return _reply(draft.text, failed=not draft.ok and draft.text.startswith("I couldn't draft this"))
    try:
        staged = [stage(kind, fields) for kind, fields in draft.actions]
    except BadRequest as err:
        return _reply(f"nothing staged: {err}")
    return side_of(draft.playbook, staged, flagged=draft.flagged) if staged else _reply("nothing staged")


def difference(then: Side, now: Side) -> str:
    """What decides "the same action": the playbook, the action kinds, the recipients or targets ('' if all hold)."""
    if now.failed:
        return FAILED
    if then.playbook != now.playbook:
        return "playbook"
    if sorted(kind for kind, _ in then.actions) != sorted(kind for kind, _ in now.actions):
        return "action kind"
    if sorted(to.lower() for _, to in then.actions) != sorted(to.lower() for _, to in now.actions):
        return "recipient"
    return ""


def similarity(then: Side, now: Side) -> float:
    """0–1: subjects and bodies compared action by action (a missing one counts 0), or the replies."""
    pairs = list(zip_longest(then.texts, now.texts, fillvalue=""))
    if not pairs:
        return 1.0
    return sum(1.0 if a == b else SequenceMatcher(None, a, b).ratio() for a, b in pairs) / len(pairs)


@dataclass(frozen=True)
class Compared:
    past: Past
    then: Side
    now: Side
    cost_now_usd: float
    approved: Side | None = None

    @property
    def differs(self) -> str:
        return difference(self.then, self.now)

    @property
    def similarity(self) -> float:
        return similarity(self.then, self.now)

    @property
    def differs_from_approved(self) -> str | None:
        return None if self.approved is None else difference(self.approved, self.now)


def compare(past: Past, draft: Draft, stage: Stage) -> Compared:
    cost = draft.cost_usd if isinstance(draft, Reply) else draft.cost_spent_usd
    return Compared(past, then_side(past), now_side(draft, stage), cost, approved_side(past))


@dataclass
class Run:
    compared: list[Compared] = field(default_factory=list)
    skipped: list[Task] = field(default_factory=list)
    """Requests not replayed: a /remember or /forget would change memory."""
    stopped: str = ""
    """Why the run stopped before the end (today's budget), or ''."""
    not_drafted: int = 0

    def worst_first(self) -> list[Compared]:
        return sorted(self.compared, key=lambda c: (-RANK[c.differs], c.similarity))

    @property
    def reasons(self) -> Counter[str]:
        return Counter(c.differs for c in self.compared if c.differs)

    @property
    def clean(self) -> bool:
        return not self.reasons and not self.stopped


def replays(task: Task) -> bool:
    return task.memory is None or task.memory.word not in CHANGES_MEMORY or task.actor.platform == "hook"


async def shadow(runner: PlaybookRunner, stage: Stage, pasts: list[Past], progress: Progress | None = None) -> Run:
    """Each past request drafted again, in order, until the end or until today's budget refuses a call."""
    run = Run()
    for done, past in enumerate(pasts):
        if progress:
            progress(done, len(pasts))
        if not replays(past.task):
            run.skipped.append(past.task)
            continue
        try:
            draft = await runner.redraft(past.task)
        except BudgetExceeded as over:
            run.stopped, run.not_drafted = str(over), len(pasts) - done
            break
        except ModelPaused as paused:  # a shadow run does not wait for the breaker: this one is not drafted
            draft = Reply(f"I couldn't draft this: {paused}. Nothing was staged.", ok=False)
        run.compared.append(compare(past, draft, stage))
    return run


# ---- the past, from the ledger and the records ------------------------------------------------------------


@dataclass
class _Seen:
    order: list[str] = field(default_factory=list)
    reached: set[str] = field(default_factory=set)
    costs: dict[str, float] = field(default_factory=dict)

    def add(self, event: Event) -> None:
        if event.type == "TaskSubmitted":
            self.order.append(event.task_id)
        elif event.type in REACHED:
            self.reached.add(event.task_id)
        elif event.type == "ModelCalled" and not event.detail.get("shadow"):
            cost = self.costs.get(event.task_id, 0.0) + event.cost_usd
            self.costs[event.task_id] = cost  # what drafting cost then, earlier shadow runs left out


async def past_requests(ledger: RedisLedger, redis: Redis, *, after: str, limit: int | None = None) -> list[Past]:
    """The requests submitted after `after` that reached a proposal or a reply (the last `limit` of them), oldest
    first, with their records: one walk of the ledger, then the records in pipelined batches."""
    seen = _Seen()
    async for batch in ledger.scan(after=after):
        for _, event in batch:
            seen.add(event)
    ids = [task_id for task_id in seen.order if task_id in seen.reached]
    tasks = [r for r in await _records(redis, "task", ids[-limit:] if limit else ids) if isinstance(r, Task)]
    found = await _records(redis, "proposal", [t.proposal_id for t in tasks if t.proposal_id])
    proposals = {p.id: p for p in found if isinstance(p, Proposal)}
    return [Past(t, proposals.get(t.proposal_id or ""), seen.costs.get(t.id, 0.0)) for t in tasks]


async def _records(redis: Redis, kind: str, ids: list[str]) -> list[Task | Proposal]:
    loaded: list[Task | Proposal] = []
    for start in range(0, len(ids), LOAD_BATCH):
        async with redis.pipeline(transaction=False) as pipe:
            for record_id in ids[start : start + LOAD_BATCH]:
                pipe.hget(keys.record(kind, record_id), "data")
            raws: list[str | None] = await pipe.execute()
        loaded += [codec.load_record(kind, raw) for raw in raws if raw]
    return loaded
