"""The composition root: the one place adapters are chosen and plugged into the core."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, time
from email.utils import parseaddr
from functools import cache
from pathlib import Path
from typing import cast

from redis import Redis as SyncRedis
from redis.asyncio import BlockingConnectionPool, Redis

from agents import playbooks
from agents.llm import Models, ResponseCache, Transport
from agents.offline import OfflineModel
from agents.queue import RQJobQueue
from agents.runner import PlaybookRunner, Tiers
from agents.transports import LiteLLMTransport, OfflineTransport
from bot.console.outbound import ConsoleOutbox
from config.policy_file import cached_policies, policy_path
from config.prices import parse_prices
from config.settings import Settings
from connectors.breaker import Breaker
from connectors.registry import build_all
from memory.actions import RedisActionRecords
from memory.digests import RedisDigestBook
from memory.embedder import Embedder, OfflineEmbedder
from memory.ledger import RedisLedger
from memory.liveness import RedisLiveness
from memory.recall import LocalRecall, Recall
from memory.records import RedisMemory
from memory.spend import RedisSpend, Reservation, Usage
from memory.store import RedisStore
from memory.working import RedisWorkingSet
from orchestrator.coordinator import Coordinator, CoreConfig
from orchestrator.errors import ConfigError
from orchestrator.events import Event
from orchestrator.model import ChatRef
from orchestrator.outbound import Outbound
from orchestrator.ports import ChatOutbox, Connector, Drafter
from orchestrator.routing import OutboxRouter
from orchestrator.schedule import ScheduleConfig, Scheduler


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


def redis_url(settings: Settings) -> str:
    """REDIS_URL, else the embedded Redis that `deputy up` (or another command) started in the data dir."""
    if settings.redis_url:
        return settings.redis_url
    from memory.embedded import running_url

    url = running_url(settings.data_dir)
    if url is None:
        raise ConfigError(
            f"no Redis: REDIS_URL is unset and no embedded Redis is running in {settings.data_dir}. "
            "Start Deputy with 'deputy up' (or 'make run'), or set REDIS_URL."
        )
    return url


REDIS_POOL_SIZE = 64
LLM_THRESHOLD = 5


def async_redis(url: str) -> Redis:
    """A bounded pool that waits for a free connection: a burst of requests queues instead of failing with
    'Too many connections'."""
    pool = BlockingConnectionPool.from_url(
        url,
        max_connections=REDIS_POOL_SIZE,
        timeout=30,
        decode_responses=True,
        protocol=2,
        driver_info=None,  # RESP2 and no CLIENT SETINFO: two fewer round trips per new connection
    )
    return Redis(connection_pool=pool)


@dataclass
class Runtime:
    settings: Settings
    redis: Redis
    store: RedisStore
    ledger: RedisLedger
    coordinator: Coordinator
    drafter: Drafter
    memory: RedisMemory
    connectors: dict[str, Connector]
    outboxes: dict[str, ChatOutbox]
    scheduler: Scheduler
    """Digest, reminders, liveness: run by `deputy scheduler` and `deputy up`, and behind `/digest` anywhere."""

    async def close(self) -> None:
        for outbox in self.outboxes.values():
            close = getattr(outbox, "close", None)
            if close is not None:
                await close()
        await self.redis.aclose()


class LazyOutbox:
    """A platform outbox made on first use: most commands (`deputy ledger`, `chat`, …) never post to Slack or
    Telegram, and importing their clients costs about a second per process."""

    def __init__(self, make: Callable[[], ChatOutbox]) -> None:
        self._make, self._made = make, cast("ChatOutbox | None", None)

    def get(self) -> ChatOutbox:
        if self._made is None:
            self._made = self._make()
        return self._made

    async def send(self, chat: ChatRef, message: Outbound) -> str | None:
        return await self.get().send(chat, message)

    async def edit(self, chat: ChatRef, ref: str, message: Outbound) -> None:
        await self.get().edit(chat, ref, message)

    async def close(self) -> None:
        close = getattr(self._made, "close", None)
        if close is not None:
            await close()


def outboxes(settings: Settings, redis: Redis) -> dict[str, ChatOutbox]:
    """One outbox per configured channel; workers post through them too."""
    chosen: dict[str, ChatOutbox] = {"console": ConsoleOutbox(redis)}
    if settings.telegram_bot_token:
        chosen["telegram"] = LazyOutbox(lambda: _telegram(settings, redis))
    if settings.slack_bot_token:
        chosen["slack"] = LazyOutbox(lambda: _slack(settings, redis))
    return chosen


def _telegram(settings: Settings, redis: Redis) -> ChatOutbox:
    from bot.telegram.outbound import TelegramOutbox

    assert settings.telegram_bot_token is not None
    token = settings.telegram_bot_token.get_secret_value()
    return TelegramOutbox(token=token, base_url=settings.telegram_api_url, redis=redis)


def _slack(settings: Settings, redis: Redis) -> ChatOutbox:
    from bot.slack.outbound import SlackOutbox, make_client

    assert settings.slack_bot_token is not None
    client = make_client(settings.slack_bot_token.get_secret_value(), settings.slack_api_url)
    return SlackOutbox(client=client, redis=redis)


def platform_outbox(runtime: Runtime, platform: str) -> ChatOutbox:
    """The real outbox behind a channel (what its inbound adapter needs for buttons and modals)."""
    outbox = runtime.outboxes[platform]
    return outbox.get() if isinstance(outbox, LazyOutbox) else outbox


def build_runtime(settings: Settings, url: str | None = None) -> Runtime:
    """Everything a process needs to handle commands; cheap, so a job builds one per run."""
    url = url or redis_url(settings)
    redis = async_redis(url)
    store, spend = RedisStore(redis), RedisSpend(redis, settings.daily_budget_usd)
    facts = RedisMemory(redis, recall_index(settings))
    connectors = build_all(settings, redis)
    channels = outboxes(settings, redis)
    config = CoreConfig(
        operators=settings.operators,
        daily_budget_usd=settings.daily_budget_usd,
        undo_seconds=settings.undo_seconds,
        policies=cached_policies(policy_path(settings.data_dir), frozenset(connectors)),
        notices=settings.report_chat,
        timezone=settings.timezone,
        digest_at=settings.digest_at,
    )
    coordinator = Coordinator(
        store=store,
        queue=RQJobQueue(SyncRedis.from_url(url)),
        outbox=OutboxRouter(channels, health=RedisLiveness(redis)),
        records=RedisActionRecords(redis),
        connectors=connectors,
        clock=SystemClock(),
        config=config,
        facts=facts,
        digests=RedisDigestBook(redis),
        spend=spend,
    )
    scheduler = build_scheduler(settings, coordinator, redis)
    coordinator.digest_hook = scheduler.on_demand
    drafter = build_agent(settings, redis, coordinator, store, spend, facts, frozenset(connectors))
    ledger = RedisLedger(redis)
    return Runtime(settings, redis, store, ledger, coordinator, drafter, facts, connectors, channels, scheduler)


def build_scheduler(settings: Settings, coordinator: Coordinator, redis: Redis) -> Scheduler:
    hour, minute = (int(part) for part in settings.digest_at.split(":"))
    platforms = tuple(
        p for p, on in (("slack", settings.slack_bot_token), ("telegram", settings.telegram_bot_token)) if on
    )
    config = ScheduleConfig(
        digest_chat=settings.report_chat,
        alert_chats=(settings.report_chat, *settings.operator_chats),
        digest_at=time(hour, minute),
        timezone=settings.timezone,
        budget_usd=settings.daily_budget_usd,
        platforms=platforms,
    )
    book = coordinator.digests or RedisDigestBook(redis)
    spend = coordinator.spend or RedisSpend(redis, settings.daily_budget_usd)
    return Scheduler(coordinator, RedisLedger(redis), book, spend, RedisLiveness(redis), config)


def build_agent(
    settings: Settings,
    redis: Redis,
    coordinator: Coordinator,
    store: RedisStore,
    spend: RedisSpend,
    memory: RedisMemory,
    kinds: frozenset[str],
) -> PlaybookRunner:
    """The playbook runner and the LLM port behind it: tiers, cache, budget, breakers, fallback, accounting."""
    books = cached_playbooks(playbooks.directories(settings.data_dir), kinds)
    offline = OfflineModel(
        books, latency_ms=settings.offline_latency_ms, sender_name=parseaddr(settings.email_from or "")[0]
    )
    direct = OfflineTransport(offline)
    remote = LiteLLMTransport(
        settings.llm_api_base, parse_prices(settings.llm_prices), offline, structured=settings.llm_structured
    )

    def transport(model: str) -> Transport:
        return direct if model == "offline" else remote

    async def account(date: str, reservation: Reservation | None, usage: Usage, event: Event) -> None:
        """The call's spend and its ledger line in one transaction: one round trip, one fsync."""
        pipe = redis.pipeline(transaction=True)
        await spend.settle_on(pipe, date, reservation, usage)
        await store.append_on(pipe, [event])
        await pipe.execute()

    models = Models(
        transport=transport,
        spend=spend,
        cache=ResponseCache(redis, scope=settings.llm_api_base or ""),
        account=account,
        today=coordinator.today,
        now=coordinator.clock.now,
        breaker=lambda provider: Breaker(redis, f"llm.{provider}", threshold=LLM_THRESHOLD),
        fallback=settings.llm_fallback_model,
    )
    tiers = Tiers(settings.llm_model, settings.verify_model, offline=settings.llm_model == "offline")
    return PlaybookRunner(books, models, memory, RedisWorkingSet(redis), tiers)


def embedder(settings: Settings) -> Embedder:
    if settings.embedding_model == "offline":
        return OfflineEmbedder()
    from agents.embeddings import LiteLLMEmbedder

    return LiteLLMEmbedder(settings.embedding_model, settings.llm_api_base)


_INDEXES: dict[tuple[str, str], Recall] = {}


def recall_index(settings: Settings) -> Recall:
    """One per process (kept across jobs, inherited by forked work horses): a local index loads its snapshot
    once and then only catches up. `weaviate` talks to the shared server instead."""
    chosen = embedder(settings)
    key = (str(settings.data_dir.resolve()), f"{settings.memory_backend}:{chosen.name}")
    if key not in _INDEXES:
        if settings.memory_backend == "weaviate":
            from memory.weaviate_recall import WeaviateRecall

            _INDEXES[key] = WeaviateRecall.from_settings(settings, chosen)
        else:
            _INDEXES[key] = LocalRecall(chosen, settings.data_dir / "memory" / f"recall-{chosen.name}.npy")
    return _INDEXES[key]


def cached_playbooks(directories: tuple[Path, ...], kinds: frozenset[str]) -> dict[str, playbooks.Playbook]:
    """Read again only when a file changes: a job builds its runtime each time, and a dropped-in playbook is
    picked up by the next task."""
    stamp = tuple((str(p), p.stat().st_mtime_ns) for d in directories if d.is_dir() for p in sorted(d.glob("*.yaml")))
    return _playbooks(directories, kinds, stamp)


@cache
def _playbooks(
    directories: tuple[Path, ...], kinds: frozenset[str], stamp: tuple[tuple[str, int], ...]
) -> dict[str, playbooks.Playbook]:
    return playbooks.load(directories, kinds)


def export_redis_url(url: str) -> None:
    """Child processes (RQ work horses, `deputy worker` started by `deputy up`) find Redis the same way."""
    os.environ["REDIS_URL"] = url
