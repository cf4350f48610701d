"""`deputy worker`: RQ's forking worker on Deputy's queue. Heavy modules are imported here, once, in the
parent, so each forked work horse starts warm."""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import signal
import socket

from redis import Redis
from rq import Queue, Worker
from rq.job import Job
from rq.serializers import JSONSerializer

from agents.maintenance import Maintenance, requeue_abandoned
from agents.queue import rq_queue
from config.settings import Settings
from config.wiring import preload_adapters, redis_url
from memory.embedded import die_with_parent

log = logging.getLogger("deputy.worker")


class DeputyWorker(Worker):
    """RQ's forking worker, except that a work horse dies with its worker: RQ puts the horse in its own
    process group, so a killed worker would otherwise leave it running unsupervised while the maintenance
    sweep hands its job to another worker."""

    def main_work_horse(self, job: Job, queue: Queue) -> None:
        parent = os.getppid()
        die_with_parent(signal.SIGKILL)
        if os.getppid() != parent:  # the worker died before the line above took effect
            os._exit(1)
        super().main_work_horse(job, queue)


def preload(settings: Settings) -> None:
    """Do once, before forking, what every job would otherwise redo: imports (litellm joins them when a real
    model is configured, the platforms' clients when configured), settings, and pydantic's serializers (tens of
    ms per work horse otherwise)."""
    from agents import jobs
    from connectors import email
    from memory import codec

    jobs.use(settings)
    preload_adapters(settings)
    codec.warm()
    email.warm()
    asyncio.run(_rehearse())
    gc.collect()
    gc.freeze()  # inherited objects stay out of the horses' collections: fewer copy-on-write page faults


async def _rehearse() -> None:
    """Walk a job's path once (wiring, connect, read) so lazy first-use work is done before forking."""
    from agents import jobs
    from config.wiring import build_runtime

    runtime = build_runtime(jobs.settings())
    try:
        await runtime.store.get_task("t-rehearsal")
        await runtime.ledger.read(count=1)
        await runtime.memory.migrate()  # maintenance: facts in an earlier format become records, once
        await runtime.memory.catch_up()  # a local recall index is loaded once here; work horses inherit it
        warm = getattr(runtime.drafter, "warm", None)
        if warm is not None:
            warm()
    finally:
        await runtime.close()


def run_worker(settings: Settings, *, burst: bool = False) -> int:
    url = redis_url(settings)
    preload(settings.model_copy(update={"redis_url": url}))  # its jobs (and work horses) use the Redis found here
    connection = Redis.from_url(url)
    name = f"deputy-{socket.gethostname()}-{os.getpid()}"
    worker = DeputyWorker([rq_queue(connection)], connection=connection, serializer=JSONSerializer, name=name)
    keeper = Maintenance(connection, name)
    keeper.tick()
    keeper.start()
    try:
        if burst:
            requeue_abandoned(connection, rq_queue(connection))
        worker.work(burst=burst, logging_level="WARNING", with_scheduler=False)
    finally:
        keeper.stop()
    return 0
