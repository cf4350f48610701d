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
