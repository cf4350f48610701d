"""Recall quality on a labelled set (tests/data/recall_set.json: 40 facts, 24 paraphrased questions): recall@3
for the offline embedder (must reach 0.7) and for an embedding model served over HTTP (`openai/…`: Deputy's own
client; the local OpenAI-compatible server's own embedder). Both figures are printed and recorded in docs/memory.md."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from agents.embeddings import LiteLLMEmbedder
from memory.embedder import Embedder, OfflineEmbedder
from memory.recall import Item, LocalRecall
from tests.fakes.openai_api import FakeOpenAI

DATA = json.loads((Path(__file__).parent.parent / "data" / "recall_set.json").read_text())


async def recall_at_3(embedder: Embedder) -> float:
    index = LocalRecall(embedder)
    await index.upsert([Item(f"m{i}", "fact", text) for i, text in enumerate(DATA["facts"])])
    found = [f"m{answer}" in [h.id for h in await index.search(q, limit=3)] for q, answer in DATA["questions"]]
    return sum(found) / len(found)


def test_the_set_is_big_enough() -> None:
    assert len(DATA["facts"]) >= 40 and len(DATA["questions"]) >= 20


async def test_offline_embedder_recall_at_3() -> None:
    score = await recall_at_3(OfflineEmbedder())
    print(f"recall@3 offline: {score:.2f}")
    assert score >= 0.7


async def test_litellm_served_embedder_recall_at_3(
    openai_server: tuple[FakeOpenAI, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    server, url = openai_server
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    score = await recall_at_3(LiteLLMEmbedder("openai/text-embedding-3-small", url))
    print(f"recall@3 litellm (test server's trigram embedder): {score:.2f}")
    assert server.stats.embeddings == len(DATA["facts"]) + len(DATA["questions"])  # it really went over HTTP
    assert score >= 0.5
