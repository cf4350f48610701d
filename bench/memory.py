"""Local recall speed: recall p50/p95 at 10k and 100k records and the ingest rate, against a bare numpy top-k
over the same vectors measured in the same run (matrix @ query, argpartition, sort the k). Deputy's search also
embeds the query, masks forgotten records and re-ranks the candidates lexically. Target: p95 ≤ 1.3× the bare
figure at 100k. Run: `python -m bench.memory` (or `make bench`)."""

from __future__ import annotations

import asyncio
import random
import time

import numpy as np

from bench.common import pct
from memory.embedder import OfflineEmbedder
from memory.recall import Item, LocalRecall

SIZES = (10_000, 100_000)
QUERIES = 400
K = 5
_VOCABULARY = """invoice contract renewal meeting workshop retainer payment billing contact office launch shipment
quote training supplier insurance hosting lease budget deadline proposal onboarding audit support license"""
WORDS = _VOCABULARY.split()
_CITY_NAMES = "Rotterdam Berlin Lisbon Austin Osaka Lyon Turin Ghent Malmo Leeds"
CITIES = _CITY_NAMES.split()


def fact(rng: random.Random, n: int) -> str:
    a, b = rng.sample(WORDS, 2)
    terms = rng.choice((14, 30, 45, 60))
    return f"Client{n} in {rng.choice(CITIES)} has a {a} about the {b}, contact person{n}@client{n}.com, net {terms}"


def question(rng: random.Random, size: int) -> str:
    n = rng.randrange(size)
    return f"what is the {rng.choice(WORDS)} of Client{n} in {rng.choice(CITIES)}?"


async def run(size: int) -> tuple[float, float, float, float, float]:
    rng = random.Random(size)
    embedder = OfflineEmbedder()
    index = LocalRecall(embedder)
    texts = [fact(rng, n) for n in range(size)]
    started = time.perf_counter()
    for start in range(0, size, 1000):
        await index.upsert([Item(f"m{n}", "fact", texts[n]) for n in range(start, min(size, start + 1000))])
    ingest = size / (time.perf_counter() - started)
    questions = [question(rng, size) for _ in range(QUERIES)]
    vectors = [embedder.vector(q) for q in questions]
    matrix = index.matrix[: index.size]
    for q in questions[:20]:  # warm-up
        await index.search(q, K)
    ours, bare = [], []
    for q, v in zip(questions, vectors, strict=True):  # alternate, so both see the same machine state
        t0 = time.perf_counter()
        await index.search(q, K)
        t1 = time.perf_counter()
        scores = matrix @ v
        top = np.argpartition(-scores, K)[:K]
        top[np.argsort(-scores[top])]
        t2 = time.perf_counter()
        ours.append(t1 - t0)
        bare.append(t2 - t1)
    return ingest, pct(ours, 50), pct(ours, 95), pct(bare, 50), pct(bare, 95)


async def main() -> None:
    print(f"local recall, offline embedder ({OfflineEmbedder().dims} dims), top-{K}, {QUERIES} queries per size")
    print(
        f"{'records':>8} {'ingest/s':>9} {'p50 ms':>8} {'p95 ms':>8} {'bare p50':>9} {'bare p95':>9} {'p95 ratio':>10}"
    )
    for size in SIZES:
        ingest, p50, p95, b50, b95 = await run(size)
        print(
            f"{size:>8} {ingest:>9.0f} {p50 * 1e3:>8.2f} {p95 * 1e3:>8.2f} {b50 * 1e3:>9.2f} {b95 * 1e3:>9.2f}"
            f" {p95 / b95:>9.2f}×"
        )
    print("target: p95 ≤ 1.3× bare numpy at 100k")


if __name__ == "__main__":
    asyncio.run(main())
