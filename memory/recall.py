"""Semantic recall behind one port, and the `local` backend: numpy vectors in memory, persisted as a snapshot
in `DEPUTY_DATA_DIR`, no server. Scoring is hybrid: the top candidates by cosine similarity are re-ranked with a
lexical score (shared words and concepts), so exact names and numbers count even with the offline embedder.

The canonical records live in Redis (memory/records.py); this index is derived from them and can always be
rebuilt, so each process keeps its own copy and catches up from Redis' change stream."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np
import numpy.typing as npt

from memory.embedder import Embedder, Vectors, terms

CANDIDATES = 32
VECTOR_WEIGHT = 0.6
FRESH_S = 0.5
"""A local index looks for other processes' changes at most this often (one task's recalls share one look)."""
SAVE_EVERY = 200


@dataclass(frozen=True)
class Item:
    id: str
    kind: str
    text: str


@dataclass(frozen=True)
class Hit:
    id: str
    score: float
    """Hybrid relevance in 0..1 (the memory layer drops hits below its threshold)."""


@dataclass(frozen=True)
class Changes:
    """Changes to the canonical records after a stream position: what to (re)index and which ids are gone."""

    offset: str
    items: list[Item]
    gone: list[str]


class ChangeFeed(Protocol):
    async def changes(self, after: str, count: int) -> Changes | None:
        """The changes after stream position `after` (None when there are none)."""


class Recall(Protocol):
    shared: bool
    """True for a server every process shares (Weaviate): written to directly. False (local): each process keeps
    its own copy and catches up from the change stream."""

    async def upsert(self, items: list[Item]) -> None: ...
    async def delete(self, ids: list[str]) -> None: ...
    async def search(self, query: str, limit: int = 5, kinds: tuple[str, ...] = ()) -> list[Hit]: ...
    async def count(self) -> int: ...
    async def refresh(self, feed: ChangeFeed, *, now: bool = False) -> None:
        """Catch up with the canonical records (a shared server always is); `now`: this process just wrote."""


_SHARED: dict[tuple[str, str], Recall] = {}


def shared_index(key: tuple[str, str], make: Callable[[], Recall]) -> Recall:
    """One index per process and key, kept across jobs (and inherited by forked work horses): a local index
    loads its snapshot once and then only catches up."""
    if key not in _SHARED:
        _SHARED[key] = make()
    return _SHARED[key]


def hybrid(cosine: float, query_terms: set[str], text_terms: frozenset[str]) -> float:
    lexical = len(query_terms & text_terms) / len(query_terms) if query_terms else 0.0
    return VECTOR_WEIGHT * max(cosine, 0.0) + (1 - VECTOR_WEIGHT) * lexical


class LocalRecall:
    shared = False

    def __init__(self, embedder: Embedder, path: Path | None = None) -> None:
        self.embedder, self.path = embedder, path
        self.ids: list[str] = []
        self.kinds: list[str] = []
        self.texts: list[str] = []
        self.row: dict[str, int] = {}
        self.matrix: npt.NDArray[np.float32] = np.zeros((0, embedder.dims), dtype=np.float32)
        self.alive: npt.NDArray[np.bool_] = np.zeros(0, dtype=bool)
        self.codes: npt.NDArray[np.int16] = np.zeros(0, dtype=np.int16)
        self._code: dict[str, int] = {}
        self._terms: dict[int, frozenset[str]] = {}
        self.offset = "0"
        """How far into the change stream this copy is (saved with the snapshot)."""
        self.unsaved = 0
        self.loaded = False
        """The snapshot was read (once per process: forked work horses inherit it)."""
        self._looked = -FRESH_S

    async def refresh(self, feed: ChangeFeed, *, now: bool = False) -> None:
        """Load this machine's snapshot once, then apply what changed in Redis since, at most every `FRESH_S`
        unless `now`; a snapshot is saved every `SAVE_EVERY` changes."""
        clock = time.monotonic()
        if clock - self._looked < FRESH_S and not now:
            return
        self._looked = clock
        if not self.loaded:
            self.loaded = True
            self.load()
        while changes := await feed.changes(self.offset, 500):
            await self.upsert(changes.items)
            await self.delete(changes.gone)
            self.unsaved += len(changes.items) + len(changes.gone)
            self.offset = changes.offset
        if self.unsaved >= SAVE_EVERY:
            self.save()

    @property
    def size(self) -> int:
        return len(self.ids)

    async def upsert(self, items: list[Item]) -> None:
        if items:
            self.add(items, await self.embedder.embed([i.text for i in items]))

    def add(self, items: list[Item], vectors: Vectors) -> None:
        if self.size == 0 and vectors.ndim == 2 and vectors.shape[1] != self.matrix.shape[1]:
            self.matrix = np.zeros((0, vectors.shape[1]), dtype=np.float32)  # a served model's size, learnt
        fresh = [i for i in items if i.id not in self.row]
        self._grow(self.size + len(fresh))
        for item, vector in zip(items, vectors, strict=True):
            index = self.row.get(item.id)
            if index is None:
                index = self.row[item.id] = self.size
                self.ids.append(item.id)
                self.kinds.append(item.kind)
                self.texts.append(item.text)
            self.kinds[index], self.texts[index] = item.kind, item.text
            self.codes[index] = self._code.setdefault(item.kind, len(self._code))
            self.matrix[index] = vector
            self.alive[index] = True
            self._terms.pop(index, None)

    def _grow(self, needed: int) -> None:
        if needed <= len(self.matrix):
            return
        capacity = max(needed, 2 * len(self.matrix), 64)
        matrix = np.zeros((capacity, self.matrix.shape[1]), dtype=np.float32)
        matrix[: self.size] = self.matrix[: self.size]
        alive = np.zeros(capacity, dtype=bool)
        alive[: self.size] = self.alive[: self.size]
        codes = np.zeros(capacity, dtype=np.int16)
        codes[: self.size] = self.codes[: self.size]
        self.matrix, self.alive, self.codes = matrix, alive, codes

    async def delete(self, ids: list[str]) -> None:
        for record_id in ids:
            index = self.row.pop(record_id, None)
            if index is not None:
                self.alive[index] = False

    async def search(self, query: str, limit: int = 5, kinds: tuple[str, ...] = ()) -> list[Hit]:
        if not self.row:
            return []
        [q] = await self.embedder.embed([query])
        return self.top(q, terms(query), limit, kinds)

    def top(self, q: Vectors, query_terms: set[str], limit: int, kinds: tuple[str, ...] = ()) -> list[Hit]:
        scores = self.matrix[: self.size] @ q
        mask = ~self.alive[: self.size]
        if kinds:
            wanted = [self._code[k] for k in kinds if k in self._code]
            mask |= ~np.isin(self.codes[: self.size], wanted)
        scores[mask] = -2.0
        n = min(CANDIDATES, self.size)
        candidates = np.argpartition(-scores, n - 1)[:n] if n < self.size else np.arange(self.size)
        ranked = [
            (hybrid(float(scores[i]), query_terms, self._terms_of(int(i))), self.ids[i])
            for i in candidates
            if scores[i] > -2.0
        ]
        ranked.sort(key=lambda pair: -pair[0])
        return [Hit(record_id, round(score, 4)) for score, record_id in ranked[:limit]]

    def _terms_of(self, index: int) -> frozenset[str]:
        found = self._terms.get(index)
        if found is None:
            found = self._terms[index] = frozenset(terms(self.texts[index]))
        return found

    async def count(self) -> int:
        return len(self.row)

    # ---- the snapshot in DEPUTY_DATA_DIR --------------------------------------------------------------

    def save(self) -> None:
        """Atomically (write, then rename): a reader never sees half a snapshot."""
        if self.path is None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        keep = [i for i in range(self.size) if self.alive[i]]
        meta = {
            "embedder": self.embedder.name,
            "offset": self.offset,
            "ids": [self.ids[i] for i in keep],
            "kinds": [self.kinds[i] for i in keep],
            "texts": [self.texts[i] for i in keep],
        }
        tmp = self.path.with_suffix(f".{os.getpid()}.tmp")
        with open(tmp, "wb") as out:
            np.save(out, self.matrix[keep])
        tmp.with_suffix(".json.tmp").write_text(json.dumps(meta))
        os.replace(tmp.with_suffix(".json.tmp"), self.path.with_suffix(".json"))
        os.replace(tmp, self.path)
        self.unsaved = 0

    def load(self) -> bool:
        if self.path is None or not self.path.exists() or not self.path.with_suffix(".json").exists():
            return False
        try:
            meta = json.loads(self.path.with_suffix(".json").read_text())
            matrix = np.load(self.path)
        except (OSError, ValueError):
            return False  # a damaged snapshot is rebuilt from Redis
        if meta.get("embedder") != self.embedder.name or len(matrix) != len(meta["ids"]):
            return False
        items = [Item(i, k, t) for i, k, t in zip(meta["ids"], meta["kinds"], meta["texts"], strict=True)]
        self.add(items, matrix.astype(np.float32))
        self.offset = str(meta["offset"])
        return True
