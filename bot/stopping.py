"""What `deputy up` says while it stops, and the order it stops in. Within a second of Ctrl-C (or Ctrl-D at the
console) it says what it waits for — actions handing over, drafts being written — with the bound and the way
to stop now, and which approved actions are held for the next start. The worker gets WORKER_STOP_S to finish;
a second Ctrl-C stops it at once. Redis is stopped last whatever happens, so nothing is left talking to it.
And `end`: how a process's own background tasks stop, within a bound."""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import subprocess
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field

from orchestrator.actions import ActionStatus
from orchestrator.ending import end as end  # the web app's loops import it from here
from orchestrator.ports import TaskStore

log = logging.getLogger("deputy.stop")
WORKER_STOP_S = 15.0


@dataclass
class Stop:
    """What the stop has to say, filled in while the runtime can still read the store."""

    said: bool = False
    """The stop has begun (and said so): a Ctrl-C from now on is the second one."""
    done: bool = False
    """The web server and the runtime are closed: what is left is the worker and Redis."""
    handing_over: Counter[str] = field(default_factory=Counter)
    drafting: int = 0
    held: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        waits = [_count(n, noun) for noun, n in sorted(self.handing_over.items())]
        drafts = [_count(self.drafting, "draft")] if self.drafting else []
        lines = ["Deputy is stopping…"]
        if waits or drafts:
            what = " and ".join([*(f"{w} to finish handing over" for w in waits), *(f"{d} to finish" for d in drafts)])
            lines.append(f"Waiting for {what} (at most {WORKER_STOP_S:.0f} s; Ctrl-C again to stop now).")
        if self.held:
            held = len(self.held)
            lines.append(
                f"{_count(held, 'approved action')} {'is' if held == 1 else 'are'} held for the next start "
                f"({', '.join(self.held)}): {'it runs' if held == 1 else 'they run'} when Deputy starts again."
            )
        return lines


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


def noun(kind: str) -> str:
    """An action kind as the operator says it: email.send is an email, webhook.post a webhook."""
    return kind.split(".", 1)[0]


async def take_stock(store: TaskStore, stop: Stop) -> None:
    """The work the worker is doing now, and the approved proposals still waiting to be applied."""
    for task_id in await store.ids("task", "applying"):
        task = await store.get_task(task_id)
        proposal = await store.get_proposal(task.proposal_id) if task and task.proposal_id else None
        for action in proposal.actions if proposal else []:
            if action.status is ActionStatus.APPLYING:
                stop.handing_over[noun(action.kind)] += 1
    stop.drafting = len(await store.ids("task", "running"))
    for task_id in await store.ids("task", "approved"):
        task = await store.get_task(task_id)
        if task and task.proposal_id:
            stop.held.append(task.proposal_id)


def stop_worker(worker: subprocess.Popen[bytes]) -> None:
    """RQ's warm shutdown (finish the current job) for at most WORKER_STOP_S, then the worker and its job go."""
    if worker.poll() is None:
        worker.send_signal(signal.SIGTERM)
        try:
            worker.wait(timeout=WORKER_STOP_S)
        except subprocess.TimeoutExpired:
            kill_worker(worker)


def kill_worker(worker: subprocess.Popen[bytes]) -> None:
    """The worker's whole process group: its job's process too, which would otherwise go on without Redis."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(worker.pid, signal.SIGKILL)
    with contextlib.suppress(ProcessLookupError):
        worker.kill()
    worker.wait()


@contextlib.contextmanager
def no_interrupts() -> Iterator[None]:
    """Stopping Redis is not cut short: a Ctrl-C now would leave it to be stopped by its parent's death."""
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
