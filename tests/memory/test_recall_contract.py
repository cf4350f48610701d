"""One contract for every recall backend. `local` always runs; `weaviate` runs when DEPUTY_WEAVIATE_URL points
at a Weaviate server (≥ 1.27) — none can be started where these tests run: Weaviate's embedded mode downloads
its server binary from the internet, and no package registry ships one."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from memory.embedded import free_port
from memory.embedder import OfflineEmbedder
from memory.recall import Item, LocalRecall, Recall
from tests.fakes.weaviate_protocol import start

BACKENDS = [
    "local",
    "weaviate-protocol-fake",  # the real client against tests/fakes/weaviate_protocol.py, not a Weaviate server
    pytest.param(
        "weaviate",
        marks=pytest.mark.skipif(
            not os.environ.get("DEPUTY_WEAVIATE_URL"),
            reason="needs a Weaviate server at DEPUTY_WEAVIATE_URL; none can be started here (its embedded mode "
            "downloads the server from the internet)",
        ),
    ),
]


@pytest.fixture(params=BACKENDS)
async def index(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Recall]:
    if request.param == "local":
        yield LocalRecall(OfflineEmbedder(), tmp_path / "recall.npy")
        return
    from memory.weaviate_recall import WeaviateRecall

    if request.param == "weaviate-protocol-fake":
        http_port = free_port()
        _, runner, server, grpc_port = await start(http_port)
        backend = WeaviateRecall(f"http://127.0.0.1:{http_port}", grpc_port, OfflineEmbedder(), workspace="w1")
        yield backend
        await backend.close()
        await runner.cleanup()
        await server.stop(None)
        return

    backend = WeaviateRecall(
        os.environ["DEPUTY_WEAVIATE_URL"],
        int(os.environ.get("DEPUTY_WEAVIATE_GRPC_PORT", "50051")),
        OfflineEmbedder(),
        workspace=f"test-{uuid.uuid4().hex[:8]}",
    )
    yield backend
    await backend.close()


FACTS = [
    Item("m1", "fact", "ACME pays invoices net 30"),
    Item("m2", "person", "ACME's billing contact is Jane Doe, jane@acme.com"),
    Item("m3", "fact", "Globex prefers short emails"),
    Item("m4", "decision", "We stop offering fixed-price projects"),
]


async def test_what_is_stored_is_found_best_first(index: Recall) -> None:
    await index.upsert(FACTS)
    hits = await index.search("when does ACME pay its invoices", limit=2)
    assert hits[0].id == "m1" and len(hits) == 2 and hits[0].score >= hits[1].score
    assert await index.count() == 4


async def test_deleted_records_are_never_found(index: Recall) -> None:
    await index.upsert(FACTS)
    await index.delete(["m1"])
    assert "m1" not in [h.id for h in await index.search("ACME pays invoices net 30", limit=4)]
    assert await index.count() == 3


async def test_upserting_an_id_again_replaces_it(index: Recall) -> None:
    await index.upsert(FACTS)
    await index.upsert([Item("m1", "fact", "ACME pays invoices net 45")])
    hits = await index.search("ACME net 45", limit=4)
    assert hits[0].id == "m1" and [h.id for h in hits].count("m1") == 1
    assert await index.count() == 4


async def test_a_search_can_be_limited_to_kinds(index: Recall) -> None:
    await index.upsert(FACTS)
    assert {h.id for h in await index.search("ACME", limit=4, kinds=("person",))} == {"m2"}


async def test_an_empty_index_finds_nothing(index: Recall) -> None:
    assert await index.search("anything") == []
