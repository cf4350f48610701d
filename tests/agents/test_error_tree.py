"""The agents and memory raise the one error tree (orchestrator/errors.py), the model port's breaker messages
use the breaker's own numbers, and no two agents modules import each other."""

from __future__ import annotations

import ast
import importlib
import inspect
from pathlib import Path

import pytest

from agents.llm import Call, parse_json
from agents.transports import LiteLLMTransport
from config.settings import settings_with
from connectors.breaker import Breaker
from memory.embedder import OfflineEmbedder
from memory.records import Source
from memory.weaviate_recall import WeaviateRecall
from orchestrator.errors import (
    BudgetExceeded,
    ConfigError,
    DeputyError,
    DraftError,
    DraftInvalid,
    ModelPaused,
    ModelPermanent,
    ModelTransient,
    ModelUnavailable,
    NotFound,
)
from tests.agents.conftest import MODEL, Deputy, Llm

AGENTS = Path(__file__).resolve().parents[2] / "agents"
EMAIL = "email jane@acme.com about invoice 42"


def test_agents_define_no_exception_classes_of_their_own() -> None:
    for path in sorted(AGENTS.glob("*.py")):
        module = importlib.import_module(f"agents.{path.stem}")
        own = [n for n, v in vars(module).items() if _exception(v) and v.__module__.startswith("agents")]
        assert own == [], f"{path.name} defines {own}: raise orchestrator.errors' classes instead"


def test_a_draft_that_is_not_json_or_not_the_playbooks_shape_is_draft_invalid(llm: Llm) -> None:
    with pytest.raises(DraftInvalid, match="not valid JSON"):
        parse_json("Sure! Here is the email")
    email = llm.runner.playbooks["email"]
    with pytest.raises(DraftInvalid, match="`to`: 'nobody' is not a valid email address"):
        email.check({"fields": {"to": "nobody", "subject": "s", "body": "b"}}, EMAIL)
    assert issubclass(DraftInvalid, DraftError) and issubclass(DraftError, DeputyError)


async def test_the_transport_raises_model_transient_and_permanent(llm: Llm) -> None:
    transport = LiteLLMTransport(llm.url)
    messages = [{"role": "user", "content": "hi"}]
    llm.script({"status": 429, "headers": {"Retry-After": "3"}}, {"status": 401, "message": "bad key"})
    with pytest.raises(ModelTransient) as slow:
        await transport(MODEL, messages, json_mode=True, max_tokens=20)
    assert slow.value.retry_after == 3.0
    with pytest.raises(ModelPermanent, match="check the provider's API key"):
        await transport(MODEL, messages, json_mode=True, max_tokens=20)


async def test_the_port_raises_model_unavailable_and_budget_exceeded(deputy: Deputy) -> None:
    llm = await deputy()
    llm.script(*[{"status": 500}] * 3)
    call = Call("t1", "draft", "draft", MODEL, [{"role": "user", "content": "hi"}])
    with pytest.raises(ModelUnavailable, match="failed 3 times"):
        await llm.runner.models.complete(call)
    broke = await deputy(DEPUTY_DAILY_BUDGET_USD="0")
    with pytest.raises(BudgetExceeded) as over:  # what agents/jobs.py catches to pause the task
        await broke.draft(EMAIL)
    assert over.value.cap == 0 and "budget is used up" in str(over.value)


async def test_the_breakers_own_numbers_are_in_the_message(llm: Llm) -> None:
    redis = llm.runtime.redis
    llm.runner.models.breaker = lambda provider: Breaker(redis, f"llm.{provider}", threshold=2, cooldown_s=30)
    llm.script(*[{"status": 500}] * 2)
    with pytest.raises(ModelPaused, match=r"failed 2 times in a row .*; pausing it for 30 s"):  # the task waits
        await llm.draft(EMAIL)
    assert llm.server.stats.requests == 2


async def test_memory_raises_config_error_and_not_found(llm: Llm) -> None:
    with pytest.raises(ConfigError, match="DEPUTY_WEAVIATE_URL"):
        settings = settings_with({"DEPUTY_MEMORY_BACKEND": "weaviate"})
        WeaviateRecall.configured(settings.weaviate_url, settings.weaviate_grpc_port, OfflineEmbedder())
    with pytest.raises(NotFound, match="m404"):
        await llm.runtime.memory.supersede("m404", "ACME pays net 45", Source(by="you"))


def test_no_two_agents_modules_import_each_other() -> None:
    """Lazy imports and those under TYPE_CHECKING count: they are dependencies all the same."""
    edges = {path.stem: _imports(path) for path in AGENTS.glob("*.py")}
    for start in edges:
        seen: set[str] = set()
        todo = list(edges[start])
        while todo:
            name = todo.pop()
            assert name != start, f"agents.{start} imports itself through agents.{'/'.join(sorted(seen))}"
            if name not in seen:
                seen.add(name)
                todo += edges.get(name, set())


def _imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module == "agents":
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("agents."):
            found.add(str(node.module).split(".")[1])
        elif isinstance(node, ast.Import):
            found |= {a.name.split(".")[1] for a in node.names if a.name.startswith("agents.")}
    return found - {path.stem}


def _exception(value: object) -> bool:
    return inspect.isclass(value) and issubclass(value, BaseException)
