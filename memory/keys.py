"""Every Redis key Deputy uses, in one place, so operators can find and inspect them."""

PREFIX = "deputy"
LEDGER = f"{PREFIX}:ledger"


def record(kind: str, record_id: str) -> str:
    return f"{PREFIX}:{kind}:{record_id}"


def index(kind: str, status: str) -> str:
    return f"{PREFIX}:idx:{kind}:{status}"


def claim(key: str) -> str:
    return f"{PREFIX}:claim:{key}"


def issued_id(record_id: str) -> str:
    return f"{PREFIX}:id:{record_id}"


def action(key: str) -> str:
    return f"{PREFIX}:action:{key}"


def console(chat: str) -> str:
    return f"{PREFIX}:console:{chat}"


def worker_alive(name: str) -> str:
    return f"{PREFIX}:worker:{name}"


def digest(part: str) -> str:
    """`digest:sent:<date>`, `digest:entries:<id>`, `digest:cursor`, `digest:since`."""
    return f"{PREFIX}:digest:{part}"


def health(part: str) -> str:
    """`health:fails:<platform>` (deliveries failed in a row), `health:flag:<name>` (an alert that is out)."""
    return f"{PREFIX}:health:{part}"
