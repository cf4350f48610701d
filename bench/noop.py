"""The baseline job: does nothing, so its round trip is RQ's own cost (enqueue, fork, finish)."""


def noop() -> None:
    return None
