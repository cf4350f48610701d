"""The Weaviate adapter's own behaviour, with the real weaviate-client against a PROTOCOL-LEVEL FAKE of
Weaviate's REST + gRPC (tests/fakes/weaviate_protocol.py) — no Weaviate server can run here. Against a real
server the contract suite covers it when DEPUTY_WEAVIATE_URL is set."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest

from bot.wiring import Runtime, build_runtime
from memory.embedded import free_port
from memory.embedder import OfflineEmbedder
from memory.recall import Item
from memory.weaviate_recall import COLLECTIONS, WeaviateRecall
from orchestrator.errors import RecallError
from orchestrator.model import Reply, Task
from orchestrator.words import memory_ask
from tests.conftest import settings_from
from tests.fakes.weaviate_protocol import FakeWeaviate, start
from tests.orchestrator.conftest import CONSOLE, ME
from tests.orchestrator.test_model import NOW


@dataclass
class Server:
    fake: FakeWeaviate
    url: str
    grpc_port: int

    def recall(self, workspace: str = "w1") -> WeaviateRecall:
        return WeaviateRecall(self.url, self.grpc_port, OfflineEmbedder(), workspace=workspace)


@pytest.fixture
async def weaviate() -> AsyncIterator[Server]:
    http_port = free_port()
    fake, runner, server, grpc_port = await start(http_port)
    yield Server(fake, f"http://127.0.0.1:{http_port}", grpc_port)
    await runner.cleanup()
    await server.stop(None)


async def test_a_collection_per_kind_with_tenants_and_our_own_vectors(weaviate: Server) -> None:
    recall = weaviate.recall()
    await recall.upsert([Item("m1", "fact", "ACME pays net 30"), Item("m2", "person", "Jane Doe, jane@acme.com")])
    await recall.search("ACME")
    assert set(weaviate.fake.classes) == set(COLLECTIONS.values())
    fact = weaviate.fake.classes["DeputyFact"]
    assert fact["multiTenancyConfig"]["enabled"] is True
    assert weaviate.fake.tenants["DeputyFact"] == {"w1"}
    [stored] = weaviate.fake.objects[("DeputyFact", "w1")].values()
    assert len(stored.vector) == OfflineEmbedder().dims and stored.properties["record_id"] == "m1"
    await recall.close()


async def test_workspaces_are_tenants_and_do_not_see_each_other(weaviate: Server) -> None:
    mine, theirs = weaviate.recall("sam"), weaviate.recall("kim")
    await mine.upsert([Item("m1", "fact", "ACME pays net 30")])
    assert [h.id for h in await mine.search("ACME")] == ["m1"]
    assert await theirs.search("ACME") == []
    await mine.close()
    await theirs.close()


async def test_failed_objects_in_a_batch_are_an_error_naming_them(weaviate: Server) -> None:
    weaviate.fake.fail_ids.add("m2")
    recall = weaviate.recall()
    with pytest.raises(RecallError, match="1 of 2 records were not stored: m2: vector has wrong length"):
        await recall.upsert([Item("m1", "fact", "ACME pays net 30"), Item("m2", "fact", "Globex pays net 60")])
    await recall.close()


async def test_deputy_with_the_weaviate_backend_remembers_and_recalls(weaviate: Server, env: dict[str, str]) -> None:
    settings = settings_from(
        {
            **env,
            "DEPUTY_MEMORY_BACKEND": "weaviate",
            "DEPUTY_WEAVIATE_URL": weaviate.url,
            "DEPUTY_WEAVIATE_GRPC_PORT": str(weaviate.grpc_port),
        }
    )
    runtime: Runtime = build_runtime(settings)
    try:
        said = await runtime.drafter.draft(
            Task(
                "t1",
                "remember ACME pays invoices net 30",
                ME,
                CONSOLE,
                "e1",
                NOW,
                memory=memory_ask("remember ACME pays invoices net 30"),
            )
        )
        assert isinstance(said, Reply) and said.text == "Remembered m1: ACME pays invoices net 30"
        found = await runtime.drafter.draft(
            Task("t2", "recall ACME invoices", ME, CONSOLE, "e2", NOW, memory=memory_ask("recall ACME invoices"))
        )
        assert isinstance(found, Reply) and found.text.startswith("m1 · ACME pays invoices net 30")
        assert len(weaviate.fake.objects[("DeputyFact", "default")]) == 1
        gone = await runtime.drafter.draft(
            Task("t3", "forget m1", ME, CONSOLE, "e3", NOW, memory=memory_ask("forget m1"))
        )
        assert isinstance(gone, Reply) and gone.text.startswith("Forgot m1")
        assert weaviate.fake.objects[("DeputyFact", "default")] == {}
    finally:
        await runtime.close()


async def test_client_records_reach_the_shared_index_and_leave_it_when_forgotten(
    weaviate: Server, env: dict[str, str]
) -> None:
    """A record written by any process (here a book with no memory beside it, as an import's) is in Weaviate once
    recall next looks, and out of it once the client is forgotten."""
    from memory.clients import RedisRecordBook
    from orchestrator.records import Entity, Source

    settings = settings_from(
        {
            **env,
            "DEPUTY_MEMORY_BACKEND": "weaviate",
            "DEPUTY_WEAVIATE_URL": weaviate.url,
            "DEPUTY_WEAVIATE_GRPC_PORT": str(weaviate.grpc_port),
        }
    )
    runtime: Runtime = build_runtime(settings)
    try:
        book, source = RedisRecordBook(runtime.redis), Source("import", "clients.csv:2", NOW)
        piotr = Entity("c1", "client")
        piotr.put("name", "Piotr Kowalski", source)
        piotr.put("emails", ["piotr@northwind.example"], source)
        await book.save([piotr], [])
        runtime.memory.new_request()
        [hit] = await runtime.memory.recall("Piotr Kowalski northwind", limit=1)
        assert hit.record.id == "c1" and len(weaviate.fake.objects[("DeputyPerson", "default")]) == 1
        stored = await book.get("c1")
        assert stored is not None
        await book.forget(stored, [])
        runtime.memory.new_request()
        assert await runtime.memory.recall("Piotr Kowalski northwind") == []
        assert weaviate.fake.objects[("DeputyPerson", "default")] == {}
    finally:
        await runtime.close()
