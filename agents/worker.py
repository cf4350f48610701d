"""`deputy worker`: RQ's forking worker on Deputy's queue. Heavy modules are imported here, once, in the
parent, so each forked work horse starts warm."""

from __future__ import annotations

import logging
import os
import socket

from redis import Redis
from rq import Worker
from rq.serializers import JSONSerializer

from agents.maintenance import Maintenance, requeue_abandoned
from agents.queue import rq_queue
from config.settings import Settings
from config.wiring import export_redis_url, redis_url

log = logging.getLogger("deputy.worker")


def preload() -> None:
    """Import what every job needs before forking (litellm joins this list when a real model is configured)."""
    import agents.jobs  # noqa: F401


def run_worker(settings: Settings, *, burst: bool = False) -> int:
    url = redis_url(settings)
    export_redis_url(url)
    preload()
    connection = Redis.from_url(url)
    name = f"deputy-{socket.gethostname()}-{os.getpid()}"
    worker = Worker([rq_queue(connection)], connection=connection, serializer=JSONSerializer, name=name)
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
