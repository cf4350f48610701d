"""Commands: imperative requests to the bus, plain frozen dataclasses routed by type (one handler each).

Adapters hand the bus an `Inbound` message (chat text) or a `Click` (a button press, orchestrator/buttons.py);
the chat words turn an `Inbound` into one of these (orchestrator/words.py), the buttons table a `Click`. A few
commands are follow-ups: a handler returns them and the bus runs them next, on fresh state (`AfterDecision`,
`AfterRemedy`, `ResumePaused`, `StopPaused`); a few come from workers (`StartTask`, `CompleteDraft`, …)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from orchestrator.model import Actor, ChatRef, Draft, MemoryAsk, Proposal, Task, Verdict
from orchestrator.offer_commands import OfferDone as OfferDone
from orchestrator.offer_commands import TakeOffer as TakeOffer
from orchestrator.outbound import Outbound

# ---- what adapters hand the bus ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Inbound:
    """A message from any channel, already authenticated by its adapter. `delivery` names the stored copy it
    came from (the inbox entry): handling the same copy again after a crash is let through its dedupe."""

    actor: Actor
    chat: ChatRef
    text: str
    event_id: str
    delivery: str = ""


Answer = Callable[[str, bool], Awaitable[None]]
"""How a press is answered (a toast, an ephemeral line): the text, and whether nothing changed."""


# ---- tasks --------------------------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class SubmitTask:
    """`task_key` names the delivery the task comes from (default: the chat's platform and the event id): the
    same delivery again finds the same task (`task_id`: the id reserved under it when it was stored). `memory`: a
    memory word's request (/remember, /recall, /forget), answered from memory. `drafted`: a draft code made where
    the task came in (an inbound hook's, never a model's): staged with the task, no worker's job."""

    text: str
    actor: Actor
    chat: ChatRef
    event_id: str
    task_key: str = ""
    memory: MemoryAsk | None = None
    drafted: Draft | None = None
    task_id: str = ""


@dataclass(frozen=True)
class StartTask:
    task_id: str


@dataclass(frozen=True)
class CompleteDraft:
    """An agent finished drafting: stage its proposal, or send its reply."""

    task_id: str
    draft: Draft


@dataclass(frozen=True, kw_only=True)
class PauseTask:
    """The next model call would pass today's budget: park the task and ask the operator to raise it."""

    task_id: str
    spent_usd: float
    cap_usd: float
    date: str


@dataclass(frozen=True, kw_only=True)
class DeferTask:
    """The model's provider is paused by its breaker until `open_until` (a unix time): the task waits and drafts
    again then (said on its message), at most a few times; the handler answers when, or None when it gave up."""

    task_id: str
    reason: str
    open_until: float


@dataclass(frozen=True)
class FailTask:
    task_id: str
    reason: str
    retry: str = ""
    """The proposal whose approved actions stopped: the message ends with the `/retry` word for it."""


@dataclass(frozen=True)
class ResumePaused:
    """Today's cap was raised: every task paused for the budget goes back on the queue."""


@dataclass(frozen=True)
class StopPaused:
    """The operator declined to raise the cap: every task paused for the budget fails, saying who stopped it."""

    by: str


# ---- decisions ----------------------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class DecideProposal:
    proposal_id: str
    actor: Actor
    verdict: Verdict
    chat: ChatRef
    version: int | None = None
    reason: str = ""
    event_id: str = ""


@dataclass(frozen=True, kw_only=True)
class AfterDecision:
    """A decision was committed: queue the work and redraw the card, as decided (the records as committed).
    Its own step, so a button press is answered before the card changes."""

    proposal: Proposal
    task: Task
    actor: Actor
    chat: ChatRef
    reason: str = ""
    event_id: str = ""


@dataclass(frozen=True)
class ApplyProposal:
    proposal_id: str


@dataclass(frozen=True, kw_only=True)
class UndoProposal:
    proposal_id: str
    actor: Actor
    chat: ChatRef
    event_id: str = ""


@dataclass(frozen=True, kw_only=True)
class EditProposal:
    """Replace fields of one staged action; the proposal gets a new version and is validated again."""

    proposal_id: str
    actor: Actor
    chat: ChatRef
    changes: dict[str, Any]
    index: int = 0
    event_id: str = ""


@dataclass(frozen=True, kw_only=True)
class ReviseProposal:
    """The operator's feedback on a pending proposal, at the version they saw: an agent drafts it again with it,
    and the result is the proposal's next version."""

    proposal_id: str
    actor: Actor
    chat: ChatRef
    feedback: str
    version: int | None = None
    event_id: str = ""


@dataclass(frozen=True, kw_only=True)
class ReviseRejected:
    """Revise with this instead: the reason a proposal was rejected with is the feedback, and the revision is a
    new proposal (a rejection stands)."""

    proposal_id: str
    actor: Actor
    chat: ChatRef
    event_id: str = ""


@dataclass(frozen=True)
class StageRevision:
    """An agent's revision: a draft to stage as the next version, or a reply saying why there is none. `ask` is
    the event of the ask it answers ('' for the one waiting)."""

    proposal_id: str
    draft: Draft
    ask: str = ""


# ---- the operator's word after applying ----------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class AlwaysAllow:
    """**Always allow** on a tool's card: approve it (at the version the card showed) and allow its tools from
    now on without a tap, each by a standing grant (revocable with `/grants revoke <id>`)."""

    proposal_id: str
    actor: Actor
    chat: ChatRef
    version: int | None = None
    event_id: str = ""


@dataclass(frozen=True, kw_only=True)
class ToolWord:
    """`/tools`, `/grants`, `/grants revoke <id>`: `text` is what followed the word."""

    word: str
    text: str
    actor: Actor
    chat: ChatRef
    event_id: str = ""


@dataclass(frozen=True, kw_only=True)
class SendAgain:
    """Send an action that may not have been sent once more: a new attempt under the same idempotency key.
    `index` None: the one that waits for the operator's word."""

    proposal_id: str
    actor: Actor
    chat: ChatRef
    index: int | None = None
    event_id: str = ""


@dataclass(frozen=True, kw_only=True)
class MarkSent:
    """An action that may not have been sent did arrive (the operator checked): it counts as applied."""

    proposal_id: str
    actor: Actor
    chat: ChatRef
    index: int | None = None
    event_id: str = ""


@dataclass(frozen=True, kw_only=True)
class RunRest:
    """After a failure: the failed action and those not run go back, each applied once more (applied ones
    are never sent again)."""

    proposal_id: str
    actor: Actor
    chat: ChatRef
    event_id: str = ""


@dataclass(frozen=True, kw_only=True)
class AfterRemedy:
    """The operator's word was committed: redraw the card, and queue the apply when there is more to run.
    Its own step, so a button press is answered before the card changes."""

    task: Task
    message: Outbound
    chat: ChatRef
    apply: bool


@dataclass(frozen=True)
class ShowAgain:
    """Show a task's committed state that may not have reached the chat (a crash between the commit and the
    post): the job's re-run and the scheduler's show pass send it; an edit in place when the message is known."""

    task_id: str


@dataclass(frozen=True)
class RemindDue:
    """The scheduler found a pending proposal due for a reminder or its expiry; re-checked on fresh state."""

    proposal_id: str


@dataclass(frozen=True, kw_only=True)
class SnoozeProposal:
    proposal_id: str
    actor: Actor
    chat: ChatRef
    until: str  # "1h" or "tomorrow"
    event_id: str = ""


# ---- later ----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RunLater:
    """The scheduler found a request scheduled for later whose time has come (`key`: its `proposal:index`)."""

    key: str


@dataclass(frozen=True)
class SayReminder:
    """A reminder marked fired whose post the chat never acknowledged (its pass died, the platform failed): say it."""

    key: str


@dataclass(frozen=True)
class FinishLater:
    """A request scheduled for later ran (as `task_id`, or said as a reminder): record it, once, and redraw its card."""

    key: str
    task_id: str = ""


@dataclass(frozen=True, kw_only=True)
class CancelLater:
    """/cancel <id> or the Cancel button: what a proposal scheduled for later does not run."""

    proposal_id: str
    actor: Actor
    chat: ChatRef
    event_id: str = ""


# ---- read-side words ------------------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class ShowView:
    """/status, /budget, /stats [7d], /help: a text built from current state, said in the chat that asked; `arg`
    is what followed the word (the window of /stats)."""

    view: str
    actor: Actor
    chat: ChatRef
    event_id: str = ""
    arg: str = ""


@dataclass(frozen=True, kw_only=True)
class PostDigest:
    """/digest: today's digest now, in the chat that asked (the scheduler's daily one still comes)."""

    chat: ChatRef
    event_id: str = ""


# ---- records ------------------------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class RecordWord:
    """/client <name> <field> <value>, /merge <name> <name>, /forget client <name>: `text` is what followed the
    word; the handler splits it with the records' schema (extra fields included)."""

    word: str
    text: str
    actor: Actor
    chat: ChatRef
    event_id: str = ""


Command = (
    SubmitTask
    | StartTask
    | CompleteDraft
    | FailTask
    | PauseTask
    | DeferTask
    | ResumePaused
    | StopPaused
    | DecideProposal
    | AfterDecision
    | ApplyProposal
    | UndoProposal
    | EditProposal
    | ReviseProposal
    | ReviseRejected
    | StageRevision
    | SendAgain
    | MarkSent
    | RunRest
    | AfterRemedy
    | ShowAgain
    | RemindDue
    | SnoozeProposal
    | RunLater
    | FinishLater
    | SayReminder
    | CancelLater
    | ShowView
    | PostDigest
    | RecordWord
    | AlwaysAllow
    | ToolWord
    | TakeOffer
    | OfferDone
)
