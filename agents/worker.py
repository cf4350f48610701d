"""`deputy worker`: RQ's forking worker on Deputy's queue. Heavy modules are imported here, once, in the
parent, so each forked work horse starts warm."""

from __future__ import annotations

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
from config.wiring import export_redis_url, redis_url
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


def preload() -> None:
    """Import what every job needs before forking (litellm joins this list when a real model is configured)."""
    import agents.jobs  # noqa: F401


def run_worker(settings: Settings, *, burst: bool = False) -> int:
    url = redis_url(settings)
    export_redis_url(url)
    preload()
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
