"""Ports: the small interfaces the core needs from the world. Fakes live in `orchestrator/fakes/`."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from orchestrator.events import Event
from orchestrator.kinds import Preview, Traits
from orchestrator.model import ChatRef, Draft, Proposal, Task
from orchestrator.outbound import Outbound
from orchestrator.records import Entity, Link

Record = Task | Proposal


class TaskStore(Protocol):
    """Tasks and proposals, written together with their ledger events in one atomic step."""

    async def get_task(self, task_id: str) -> Task | None: ...
    async def get_proposal(self, proposal_id: str) -> Proposal | None: ...
    async def commit(self, records: Sequence[Record], events: Sequence[Event]) -> None:
        """Write the records (each checked against its loaded `rev`, raising `Conflict`) and append the events."""

    async def ids(self, kind: str, status: str) -> list[str]: ...
    async def shown(self, task_id: str, status: str, ref: str = "") -> None:
        """The chat shows the task at `status` (its message at `ref`, when newly posted). A commit that moves a
        task to a state the operator must see marks it unshown, in the same atomic step, until this is said."""

    async def keep_ref(self, task_id: str, ref: str) -> None:
        """The task's first message is at `ref`, unless a message of its own was kept already (a worker that took
        the task meanwhile and posted): later updates edit it. Beside the record, not a commit of it."""

    async def unshown(self, older_than_s: float = 0) -> list[str]:
        """Tasks committed to such a state whose message the chat may not have yet (a crash between the commit
        and the post), unshown for at least `older_than_s`."""

    async def set_step(self, task_id: str, step: str) -> None:
        """What a running task is doing now ("Drafting with gemma"), as its progress message says: for /status."""

    async def steps(self, task_ids: Sequence[str]) -> dict[str, str]:
        """The step of each of these tasks that has one."""


class Ids(Protocol):
    """Ids that are never handed out twice, across processes and restarts."""

    async def new_id(self, prefix: str) -> str:
        """A short id that was never handed out before."""

    async def id_for(self, key: str, prefix: str, ttl_seconds: int) -> tuple[str, bool]:
        """The never-reused id `key` maps to (a new one the first time, then the same for `ttl_seconds`), and
        whether it is new: a delivery handled twice makes one task."""


class Claims(Protocol):
    """First come wins, across processes: event dedupe, leases, and counts over a time window."""

    async def claim(self, key: str, ttl_seconds: int, owner: str = "") -> bool:
        """True the first time `key` is claimed within `ttl_seconds` (event dedupe), and again for the same
        non-empty `owner` (the same stored delivery, handled again after a crash)."""

    async def claim_with_id(self, key: str, ttl_seconds: int, owner: str, id_key: str) -> tuple[bool, str]:
        """`claim` (a non-empty `owner`) and, when it is granted, the task id `id_key` maps to (`Ids.id_for`'s,
        drawn now if new), in one step: a chat message that starts a task makes one write for both."""

    async def release(self, key: str) -> None:
        """Give a claim back, so a redelivery of an event that changed nothing is handled."""

    async def tally(self, key: str, ttl_seconds: int) -> int:
        """Count one more under `key` (kept `ttl_seconds` from the first): how many so far."""


class Ledger(Protocol):
    async def read(self, *, after: str = "0", count: int = 1000) -> list[tuple[str, Event]]: ...
    def position(self, at: datetime) -> str:
        """A position just before `at`: reading after it gives what was appended from `at` on."""


@dataclass(frozen=True)
class ActionRecord:
    key: str
    outcome: str | None
    handed_over: bool = False
    """The action passed its point of no return (for SMTP: the end of the data was about to be sent)."""


class ActionRecords(Protocol):
    """Idempotency records, one per attempt of an action: whether it was handed to the outside world, and
    its outcome. An attempt that crashed before the hand-over delivered nothing and is simply tried again."""

    async def begin(self, key: str) -> ActionRecord | None:
        """Count an attempt; None if this is the first, else what earlier attempts left."""

    async def handed_over(self, key: str) -> None:
        """Written before the point of no return: from here on, a lost attempt may have been delivered."""

    async def finish(self, key: str, outcome: str) -> None: ...
    async def forget(self, key: str) -> None:
        """Drop the record after a failure that delivered nothing, so a retry starts afresh."""


HandOver = Callable[[], Awaitable[None]]
"""What a connector awaits just before its point of no return (`Connector.apply`)."""


async def no_hand_over() -> None:
    """The default for a caller that keeps no idempotency records (a connector's own tests)."""


class Connector(Protocol):
    """A connector module (`connectors/<name>.py`) builds one; `traits` is everything else Deputy knows about its
    kind (orchestrator/kinds.py)."""

    kind: str
    resend_safe: bool
    """True when the far side dedupes on the idempotency key, so an attempt that may have been delivered is
    simply sent again; False (email) when only the operator can tell, so the hand-over must be reported."""

    def validate(self, fields: dict[str, Any]) -> dict[str, Any]:
        """Normalised fields, or `BadRequest` with a sentence for the operator."""

    @property
    def traits(self) -> Traits: ...
    def preview(self, fields: dict[str, Any]) -> Preview:
        """The action in words for its card: summary, target, and the draft the card quotes."""

    def unavailable(self) -> str:
        """Why approval would fail now (e.g. SMTP not configured), or '' when ready."""

    async def apply(self, fields: dict[str, Any], idempotency_key: str, handing_over: HandOver) -> str:
        """Do it; return the outcome in words. Await `handing_over()` right before the step after which the
        far side may act on it (nothing before it can deliver anything). Raise TransientConnectorError when
        nothing was delivered, PermanentConnectorError when retrying won't help, ConnectorError otherwise."""


class JobQueue(Protocol):
    async def enqueue_run(self, task_id: str, *, again: bool = False) -> None:
        """`again`: the task ran before and paused; a finished earlier run must not block this one."""

    async def enqueue_apply(self, proposal_id: str, at: datetime | None = None, *, again: bool = False) -> None:
        """Apply now, or at `at` (the end of an undo window). `again`: the operator's word resumes a proposal
        whose earlier apply job has finished; that finished job must not block this one."""

    async def enqueue_revise(self, proposal_id: str, version: int) -> None:
        """Revise a proposal (the feedback is on its record): one job per proposal and version, and asking again
        after a refused revision is not blocked by the finished job."""


@dataclass(frozen=True)
class Scheduled:
    """A request to run at a time (a `task.later` action, keyed like it: `proposal:index`): drafted then as a new
    task in the same chat, or — `remind` — said there as a reminder. `status`: scheduled, firing, fired or
    cancelled; `task_id` is the task it became."""

    key: str
    request: str
    at: datetime
    remind: bool = False
    status: str = "scheduled"
    task_id: str = ""

    @property
    def proposal_id(self) -> str:
        return self.key.rsplit(":", 1)[0]

    @property
    def index(self) -> int:
        return int(self.key.rsplit(":", 1)[1])


@dataclass(frozen=True)
class OpenWork:
    """What is open anywhere, read beside a `/who` lookup in the same round trip and matched to its records."""

    pending: list[Proposal]
    running: list[Task]
    later: list[Scheduled]
    projects: list[Entity]


class Later(Protocol):
    """What is scheduled for later, shared by every scheduler process: each item moves on once."""

    async def due(self, now: datetime) -> list[Scheduled]: ...
    async def take(self, key: str) -> Scheduled | None:
        """Scheduled (or taken by a pass that didn't finish) → firing; None once it fired or was cancelled."""

    async def fired(self, key: str, task_id: str, *, unsaid: bool = False) -> bool:
        """Mark it done; True only for the caller that did. `unsaid`: a reminder, to be said after this commit —
        it stays in the unsaid set until `said`, so a pass that dies before the chat has it leaves it to the next."""

    async def said(self, key: str) -> None:
        """The chat acknowledged the reminder."""

    async def unsaid(self, older_than_s: float = 0) -> list[str]:
        """Reminders marked fired whose post was not acknowledged (at least this many seconds ago)."""

    async def cancel(self, key: str) -> Scheduled | None:
        """Cancelled, unless it was taken or fired first: the item as it is now (None if there is none)."""

    async def upcoming(self, limit: int = 10) -> list[Scheduled]: ...
    async def of(self, proposal_id: str) -> list[Scheduled]: ...


class ChatOutbox(Protocol):
    async def send(self, chat: ChatRef, message: Outbound) -> str | None:
        """Post; return a reference for later edits when the platform has one."""

    async def edit(self, chat: ChatRef, ref: str, message: Outbound) -> None: ...


class Clock(Protocol):
    def now(self) -> datetime: ...


class Drafter(Protocol):
    """The agent boundary: turns a task into a proposal draft or a reply. Never touches the outside world."""

    async def draft(self, task: Task) -> Draft: ...
    async def revise(self, task: Task, proposal: Proposal, feedback: str) -> Draft:
        """The proposal drafted again with the operator's feedback, in its playbook's shape (or why not)."""


class Facts(Protocol):
    """What the core asks of memory (the agents use memory/ directly): is a recipient already known?"""

    async def known(self, needles: Sequence[str]) -> frozenset[str]:
        """Those of `needles` (addresses, names) that appear in a remembered fact."""

    async def forget_about(self, keys: Sequence[str]) -> int:
        """`/forget client`: forget every remembered fact and conversation turn that names one of these record
        keys (`email:…`, `name:…`); how many went."""


class DigestOffers(Protocol):
    """What a digest offered under Approve all, found again when that button is pressed."""

    async def save(self, digest_id: str, entries: list[tuple[str, int]]) -> None:
        """The low-risk proposals (id, version) a digest offered under Approve all."""

    async def entries(self, digest_id: str) -> list[tuple[str, int]]: ...


class DigestShown(Protocol):
    """Which version of a proposal a digest showed in a chat: a typed decision there means that version."""

    async def showed(self, chat: ChatRef, versions: dict[str, int]) -> None:
        """The proposals (id → version) a digest showed in a chat."""

    async def shown(self, chat: ChatRef, proposal_id: str) -> int | None:
        """The version of a proposal a chat was last shown by a digest, if any."""


class DigestRuns(Protocol):
    """When digests were sent and how far the ledger was covered, shared by every scheduler process."""

    async def sent(self, date: str) -> bool: ...
    async def mark_sent(self, date: str) -> None: ...
    async def cursor(self) -> str:
        """The ledger position the last scheduled digest covered up to."""

    async def advance(self, cursor: str) -> None: ...
    async def since(self, now: datetime) -> datetime:
        """When scheduling began (set on first call): digests before it were never due."""


class DigestBook(DigestOffers, DigestShown, DigestRuns, Protocol):
    """All three digest roles, as one Redis adapter (memory/digests.py) serves them: the scheduler writes
    each, the bus reads the offers and the versions shown."""


@dataclass(frozen=True)
class ModelSpend:
    model: str
    usd: float
    calls: int
    cache_hits: int = 0
    unpriced: int = 0
    """Calls to a model with no known price: counted, but $0 against the budget."""


class Spend(Protocol):
    async def day(self, date: str) -> float:
        """Model spend in USD on a local date (YYYY-MM-DD)."""

    async def models(self, date: str) -> list[ModelSpend]: ...
    async def cap(self, date: str) -> float:
        """The day's cap: the configured budget plus what the operator approved raising it by."""


class Liveness(Protocol):
    async def workers(self) -> int: ...
    async def storage(self) -> str:
        """'' while the store takes writes, else why not, in words that say the fix."""

    async def record(self, platform: str, ok: bool) -> None:
        """One delivery to a chat platform worked or failed."""

    async def failures(self, platform: str) -> int:
        """Deliveries that failed in a row, across processes."""

    async def flag(self, name: str, on: bool) -> bool:
        """Set or clear an alert flag; True only for the one caller that changed it (alerts go out once)."""


class RecordBook(Protocol):
    """Clients and projects (orchestrator/records.py), each change written together with its ledger events."""

    async def get(self, record_id: str) -> Entity | None: ...
    async def find(self, key: str) -> list[str]:
        """The ids a fixed key names (`email:…`, `name:…`, `project:…`: one at most; `domain:…`: any number)."""

    async def resolve(self, keys: Sequence[str]) -> list[Entity]:
        """The records of the first of these keys that names any."""

    async def cards(self, keys: Sequence[str], lines: int) -> list[tuple[Entity, list[Link]]]:
        """`resolve` with each record's newest timeline lines, in one round trip (`/who`)."""

    async def who(
        self, keys: Sequence[str], lines: int, limit: int
    ) -> tuple[list[tuple[Entity, list[Link]]], OpenWork]:
        """`cards`, and at most `limit` of each open thing (pending proposals, running tasks, requests for later,
        projects), all in one round trip: `/who` costs one read however much is linked."""

    async def ids(self, kind: str) -> list[str]: ...
    async def new_id(self, kind: str) -> str: ...
    async def save(self, entities: Sequence[Entity], events: Sequence[Event], *, drop: Sequence[str] = ()) -> None:
        """Write the records (each checked against its `rev`: `Conflict`), index their keys, delete the `drop`
        ids (merged away) and append the events, all or nothing. A unique key that is another record's is a
        `BadRequest` naming it; a forgotten one too."""

    async def forget(self, entity: Entity, events: Sequence[Event]) -> None:
        """Remove the record, its keys and timeline; keep hashes of its keys so nothing brings it back."""

    async def buried(self, keys: Sequence[str]) -> bool:
        """Whether any of these keys belonged to a forgotten record."""

    async def link(self, record_ids: Sequence[str], link: Link) -> None:
        """Add a line to these records' timelines (the same `ref` twice is one line)."""

    async def timeline(self, record_id: str, limit: int = 10) -> list[Link]:
        """The newest lines first."""
