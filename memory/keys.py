"""Every Redis key Deputy uses, in one place, so operators can find and inspect them."""

PREFIX = "deputy"
LEDGER = f"{PREFIX}:ledger"
UNSHOWN = f"{PREFIX}:unshown"
"""Tasks whose committed state the chat may not show yet (memory/store.py adds them in the commit)."""


def record(kind: str, record_id: str) -> str:
    return f"{PREFIX}:{kind}:{record_id}"


def index(kind: str, status: str) -> str:
    return f"{PREFIX}:idx:{kind}:{status}"


def claim(key: str) -> str:
    return f"{PREFIX}:claim:{key}"


def issued_id(record_id: str) -> str:
    return f"{PREFIX}:id:{record_id}"


def id_for(key: str) -> str:
    """The id a delivery's task got (`id-for:<platform>:<event>`), so handling it again finds the same task."""
    return f"{PREFIX}:id-for:{key}"


INBOX = f"{PREFIX}:inbox"
"""Every platform delivery, stored before its 2xx and removed once handled (memory/inbox.py)."""


def inbox(part: str) -> str:
    """`inbox:dead` (deliveries that failed too often), `inbox:tries`, `inbox:lease:<entry>`."""
    return f"{PREFIX}:inbox:{part}"


def action(key: str) -> str:
    return f"{PREFIX}:action:{key}"


def console(chat: str) -> str:
    return f"{PREFIX}:console:{chat}"


def step(task_id: str) -> str:
    """What a running task is doing now (its progress message's step), for /status."""
    return f"{PREFIX}:step:{task_id}"


def worker_alive(name: str) -> str:
    return f"{PREFIX}:worker:{name}"


def digest(part: str) -> str:
    """`digest:sent:<date>`, `digest:entries:<id>`, `digest:cursor`, `digest:since`."""
    return f"{PREFIX}:digest:{part}"


def health(part: str) -> str:
    """`health:fails:<platform>` (deliveries failed in a row), `health:flag:<name>` (an alert that is out)."""
    return f"{PREFIX}:health:{part}"


def budget(date: str) -> str:
    """`budget:<date>`: `spent`, `reserved` (calls in flight) and `raised` (approved raises) for a local day."""
    return f"{PREFIX}:budget:{date}"


def spend(date: str) -> str:
    """`spend:<date>`: per-model counters for a local day: `usd|m`, `calls|m`, `hits|m`, `unpriced|m`, tokens."""
    return f"{PREFIX}:spend:{date}"


def llm(part: str) -> str:
    """`llm:cache:<sha256>` (responses of deterministic calls), `llm:circuit:<provider>`."""
    return f"{PREFIX}:llm:{part}"


def memory(part: str) -> str:
    """`memory:rec:<id>` (a record, JSON), `memory:seq`, `memory:changes` (stream: op, id), `memory:ws:<chat>`."""
    return f"{PREFIX}:memory:{part}"


def telegram(part: str) -> str:
    """`telegram:prompt:<chat>:<message id>`: what a ForceReply prompt asked for (`<proposal id>:<version>`)."""
    return f"{PREFIX}:telegram:{part}"


def later(part: str) -> str:
    """`later:item:<proposal>:<index>` (a scheduled request: request, at, remind, status, task), `later:due` (by
    time), `later:of:<proposal>` (a proposal's items)."""
    return f"{PREFIX}:later:{part}"


def deployed_connectors() -> str:
    """What the running worker's connectors can do (kind → '' when ready, else why not), published at its start."""
    return f"{PREFIX}:deployed:connectors"


def rec(part: str) -> str:
    """Clients and projects (memory/clients.py): `rec:<id>` (data, rev), `rec:keys` (unique key → id),
    `rec:domain:<domain>` and `rec:first:<first name>` (ids), `rec:all:<kind>`, `rec:tomb` (hashes of forgotten
    keys), `rec:tl:<id>` and `rec:tlx:<id>` (timeline: refs by time, and their lines), `rec:seq`."""
    return f"{PREFIX}:rec:{part}"
