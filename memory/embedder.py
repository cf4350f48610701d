"""Text → vector. The offline embedder needs no network and no model download: it hashes a text's words (lightly
stemmed), a small table of related concepts, and character trigrams into a fixed-size unit vector. It knows no
meaning beyond that table — docs/memory.md says how its recall compares with a served embedding model."""

from __future__ import annotations

import hashlib
import re
from typing import Protocol

import numpy as np
import numpy.typing as npt

Vectors = npt.NDArray[np.float32]
DIMS = 256
_WORD = re.compile(r"[a-z0-9@._+-]+")
_STOP_WORDS = """a an the is are was were be been of to for and or in on at by with about from as it its this that
these those what who whom when where which how do does did my our your their i me we you he she they them his her
s t can could should would will shall may might must has have had not no yes so if then than there here any some
all much many"""
STOP = frozenset(_STOP_WORDS.split())
CONCEPTS: dict[str, str] = {
    word: concept
    for concept, words in {
        "pay": "pay pays paid paying payment payments settle settles settled bill bills billing invoice invoices "
        "invoiced net due overdue owe owes terms",
        "contact": "contact contacts email emails mail address reach write phone call",
        "price": "price prices pricing rate rates cost costs fee fees charge charges quote budget eur usd dollar",
        "meet": "meet meeting meetings call calls sync workshop session appointment",
        "time": "date dates deadline deadlines when day days week weeks month months schedule until",
        "person": "who person people buyer manager lead owner contact head founder ceo cfo cto",
        "like": "prefer prefers preference preferences like likes want wants favorite style tone",
        "contract": "contract contracts agreement renewal renew renews signed sign nda retainer",
        "ship": "ship ships shipped shipping deliver delivers delivery deliveries send sent",
        "place": "where office offices located location city based address hq",
        "project": "project projects initiative launch launches milestone roadmap",
        "holiday": "holiday holidays vacation leave off away absent",
        "language": "language languages speak speaks german french spanish english",
        "size": "employees staff headcount size team teams people",
        "tool": "tool tools software stack uses use crm platform system",
    }.items()
    for word in words.split()
}


class Embedder(Protocol):
    name: str
    dims: int

    async def embed(self, texts: list[str]) -> Vectors: ...


def stem(word: str) -> str:
    for suffix in ("ing", "ed", "es", "s"):
        if len(word) > len(suffix) + 3 and word.endswith(suffix):
            return word[: -len(suffix)]
    return word


def terms(text: str) -> set[str]:
    """The words a lexical match counts: lower-case, stemmed, no stop words, plus their concepts."""
    found: set[str] = set()
    for raw in _WORD.findall(text.lower()):
        word = raw.strip("._+-")
        if not word or word in STOP:
            continue
        found.add(stem(word))
        if "@" in word:
            found.add(word.split("@")[0])
        host = word.split("@")[-1]
        if "." in host and host.rsplit(".", 1)[1].isalpha() and len(host.split(".")[0]) > 1:
            found.add(host.split(".")[0])  # an address's or a domain's company: jane@acme.com, acme.com → acme
        if word in CONCEPTS:
            found.add(f"~{CONCEPTS[word]}")
    return found


def _slot(feature: str, dims: int) -> tuple[int, float]:
    h = int.from_bytes(hashlib.blake2b(feature.encode(), digest_size=8).digest(), "little")
    return h % dims, 1.0 if h >> 63 else -1.0


class OfflineEmbedder:
    name = "offline"

    def __init__(self, dims: int = DIMS) -> None:
        self.dims = dims

    def vector(self, text: str) -> npt.NDArray[np.float32]:
        v = np.zeros(self.dims, dtype=np.float32)
        for term in terms(text):
            i, sign = _slot(term, self.dims)
            v[i] += sign * (1.5 if term.startswith("~") else 1.0)
            if not term.startswith("~") and len(term) > 4:
                for k in range(len(term) - 2):
                    i, sign = _slot(f"#{term[k : k + 3]}", self.dims)
                    v[i] += sign * 0.25
        norm = float(np.linalg.norm(v))
        return v / norm if norm else v

    async def embed(self, texts: list[str]) -> Vectors:
        if not texts:
            return np.zeros((0, self.dims), dtype=np.float32)
        return np.stack([self.vector(t) for t in texts])
