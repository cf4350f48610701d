"""The composition root: the one place adapters are chosen and plugged into the core. It only composes —
what it plugs in (connections, outboxes, caches, accounting) lives with the adapters themselves."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import time
from email.utils import parseaddr
from typing import ParamSpec

from redis.asyncio import Redis

from agents import playbooks, price_list
from agents.capabilities import Capabilities
from agents.llm import Models, ResponseCache, Transport
from agents.offline import OfflineModel
from agents.openai_compat import close_session, native, sibling
from agents.queue import RQJobQueue
from agents.runner import Local, PlaybookRunner, Tiers
from agents.tools import ToolRunner
from agents.transports import LiteLLMTransport, OfflineTransport
from bot.channels import chatting
from bot.deployed import DeployedView, as_deployed
from bot.outboxes import outboxes
from bot.outboxes import preload as preload_outboxes
from config.policy_file import cached_policies, policy_path
from config.prices import parse_prices
from config.record_fields import record_path, record_schema
from config.settings import Settings
from connectors.breaker import Breaker
from connectors.calendar import agenda_of
from connectors.registry import build_all, traits
from memory.accounting import ModelAccounting
from memory.actions import RedisActionRecords
from memory.clients import RedisRecordBook
from memory.connections import async_redis, resolve_url, sync_redis
from memory.digests import RedisDigestBook
from memory.embedder import Embedder, OfflineEmbedder
from memory.later import RedisLater
from memory.ledger import RedisLedger
from memory.liveness import RedisLiveness
from memory.recall import LocalRecall, Recall, shared_index
from memory.records import RedisMemory
from memory.spend import RedisSpend
from memory.store import RedisStore
from memory.working import RedisWorkingSet
from orchestrator import commands as cmd
from orchestrator.clock import SystemClock
from orchestrator.coordinator import Coordinator
from orchestrator.core import Core, CoreConfig
from orchestrator.kinds import Traits
from orchestrator.ports import ChatOutbox, Connector, Drafter
from orchestrator.routing import OutboxRouter
from orchestrator.schedule import ScheduleConfig, Scheduler


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
    deployed: DeployedView
    """What the running worker says its connectors can do; a long-lived process reads it at start (`attach`)."""

    async def attach(self) -> None:
        """Approval-time checks from now on answer as the running deployment, not this process's environment."""
        await self.deployed.refresh()

    async def close(self) -> None:
        for connector in self.connectors.values():  # an MCP connector's open sessions
            if callable(shut := getattr(connector, "close", None)):
                await shut()
        for outbox in self.outboxes.values():
            close = getattr(outbox, "close", None)
            if close is not None:
                await close()
        await close_session()  # the model client's connections (agents/openai_compat.py)
        await self.redis.aclose()


P = ParamSpec("P")


def _with_bus(make: Callable[P, Core]) -> Callable[P, Coordinator]:
    def build(*args: P.args, **ports: P.kwargs) -> Coordinator:
        return Coordinator(make(*args, **ports))

    return build


bootstrap = _with_bus(Core)
"""The core and its bus from keyword ports (cosmicpython's `bootstrap`): `build_runtime` passes the Redis
adapters, a test passes fakes. It takes exactly `Core`'s fields, checked by mypy, so it follows the core."""


def redis_url(settings: Settings) -> str:
    return resolve_url(settings.redis_url, settings.data_dir)


def build_runtime(settings: Settings, url: str | None = None) -> Runtime:
    """Everything a process needs to handle commands; cheap, so a job builds one per run."""
    url = url or redis_url(settings)
    redis = async_redis(url)
    store, spend, ledger = RedisStore(redis), RedisSpend(redis, settings.daily_budget_usd), RedisLedger(redis)
    memory = RedisMemory(redis, recall_index(settings))
    connectors = build_all(settings, redis)
    deployed = DeployedView(redis)
    channels = outboxes(settings, redis)
    bus = bootstrap(
        store=store,
        ids=store,
        claims=store,
        queue=RQJobQueue(sync_redis(url), settings.job_retries, aio=redis),
        outbox=OutboxRouter(channels, health=RedisLiveness(redis)),
        records=RedisActionRecords(redis),
        connectors=as_deployed(connectors, deployed),
        clock=SystemClock(),
        config=core_config(settings, traits(connectors)),
        facts=memory,
        digests=RedisDigestBook(redis),
        spend=spend,
        ledger=ledger,
        later=RedisLater(redis),
        book=RedisRecordBook(redis, store, memory.records_changed),
    )
    core = bus.core
    scheduler = build_scheduler(settings, bus, ledger, RedisLiveness(redis))
    bus.route(cmd.PostDigest, scheduler.on_demand)
    drafter = build_agent(settings, core, ModelAccounting(redis, spend, store), memory, RedisWorkingSet(redis))
    return Runtime(settings, redis, store, ledger, bus, drafter, memory, connectors, channels, scheduler, deployed)


def core_config(settings: Settings, kinds: frozenset[Traits]) -> CoreConfig:
    return CoreConfig(
        operators=settings.operators,
        daily_budget_usd=settings.daily_budget_usd,
        undo_seconds=settings.undo_seconds,
        policies=cached_policies(policy_path(settings.data_dir), kinds),
        notices=settings.report_chat,
        timezone=settings.timezone,
        digest_at=settings.digest_at,
        schema=record_schema(record_path(settings.data_dir)),
    )


def build_scheduler(settings: Settings, bus: Coordinator, ledger: RedisLedger, liveness: RedisLiveness) -> Scheduler:
    hour, minute = (int(part) for part in settings.digest_at.split(":"))
    platforms = chatting(settings)
    config = ScheduleConfig(
        digest_chat=settings.report_chat,
        alert_chats=(settings.report_chat, *settings.operator_chats),
        digest_at=time(hour, minute),
        timezone=settings.timezone,
        budget_usd=settings.daily_budget_usd,
        platforms=platforms,
    )
    return Scheduler(bus, ledger, bus.core.digests, bus.core.spend, liveness, config, agenda_of(bus.core.connectors))


def build_agent(
    settings: Settings,
    core: Core,
    account: ModelAccounting,
    memory: RedisMemory,
    working: RedisWorkingSet,
    *,
    books: dict[str, playbooks.Playbook] | None = None,
    shadow: bool = False,
) -> PlaybookRunner:
    """The playbook runner and the LLM port behind it: tiers, cache, budget, breakers, fallback, accounting.
    `books` replaces the configured playbooks and `shadow` marks the model calls: a shadow run's runner."""
    books = books or playbooks.cached(playbooks.directories(settings.data_dir), frozenset(core.connectors))
    ready = playbooks.takes(core.connectors)
    books = {name: book.fitted(ready) for name, book in books.items()}
    sender = parseaddr(settings.email_from or "")[0]
    offline = OfflineModel(books, latency_ms=settings.offline_latency_ms, sender_name=sender)
    direct = OfflineTransport(offline)
    remote = LiteLLMTransport(
        settings.llm_api_base,
        parse_prices(settings.llm_prices),
        structured=settings.llm_structured,
        timeout=settings.llm_timeout_s,
        retries_set=settings.llm_retries,
        offline=offline,
    )
    openai = sibling(remote)

    def transport(model: str) -> Transport:
        return direct if model == "offline" else openai if native(model) else remote

    redis = account.redis
    models = Models(
        transport=transport,
        spend=account.spend,
        cache=ResponseCache(redis, scope=settings.llm_api_base or ""),
        account=account,
        today=core.today,
        now=core.now,
        breaker=lambda provider: Breaker(redis, f"llm.{provider}"),
        fallback=settings.llm_fallback_model,
        shadow=shadow,
        capabilities=Capabilities(redis),
    )
    tiers = Tiers(settings.llm_model, settings.verify_model, offline=settings.llm_model == "offline")
    desk = core.connectors.get(ToolRunner.kind())
    local = Local(core.now, settings.timezone)
    return ToolRunner(books, models, memory, working, tiers, local, core.book, agenda_of(core.connectors), desk=desk)


def shadow_agent(runtime: Runtime, *, books: dict[str, playbooks.Playbook] | None, model: str | None) -> PlaybookRunner:
    """`deputy shadow`'s runner: the configured one but for the playbooks and the drafting model given, its calls
    spent against today's budget and marked shadow."""
    settings = runtime.settings.model_copy(update={"llm_model": model}) if model else runtime.settings
    spend = RedisSpend(runtime.redis, settings.daily_budget_usd)
    account = ModelAccounting(runtime.redis, spend, runtime.store)
    core, working = runtime.coordinator.core, RedisWorkingSet(runtime.redis)
    return build_agent(settings, core, account, runtime.memory, working, books=books, shadow=True)


def embedder(settings: Settings) -> Embedder:
    if settings.embedding_model == "offline":
        return OfflineEmbedder()
    from agents.embeddings import LiteLLMEmbedder

    return LiteLLMEmbedder(settings.embedding_model, settings.llm_api_base)


def recall_index(settings: Settings) -> Recall:
    """`local` (numpy in this process, a snapshot in the data dir) or `weaviate` (the shared server)."""
    chosen = embedder(settings)
    key = (str(settings.data_dir.resolve()), f"{settings.memory_backend}:{chosen.name}")
    if settings.memory_backend == "weaviate":
        from memory.weaviate_recall import WeaviateRecall

        return shared_index(
            key, lambda: WeaviateRecall.configured(settings.weaviate_url, settings.weaviate_grpc_port, chosen)
        )
    path = settings.data_dir / "memory" / f"recall-{chosen.name}.npy"
    return shared_index(key, lambda: LocalRecall(chosen, path))


def preload_adapters(settings: Settings) -> None:
    """What a forking worker imports once for all its jobs: the configured platforms' clients. Not litellm:
    see `preload_models`."""
    preload_outboxes(settings)


def preload_models(settings: Settings) -> None:
    """litellm when a configured model needs it (about 3 s of CPU and 130 MB), imported by the one process that
    calls models, the warm job process, as it starts: the worker parent never calls a model, and imported there
    it would hold its own copy of every page the job process writes to (issue 30). `openai/…` models don't need
    it (agents/openai_compat.py), nor does the built-in one."""
    models = configured_models(settings)
    if any(needs_litellm(m) for m in models):
        from agents.transports import litellm

        litellm()
    if any(native(m) for m in models):
        price_list.entries()  # OpenAI's prices, read once before the first job rather than during it


def configured_models(settings: Settings) -> tuple[str, ...]:
    """Every model a process may call: drafting, verify, fallback and embedding."""
    models = (settings.llm_model, settings.verify_model, settings.llm_fallback_model, settings.embedding_model)
    return tuple(m for m in models if m)


def needs_litellm(model: str) -> bool:
    return model != "offline" and not native(model)
