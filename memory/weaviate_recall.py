"""The `weaviate` recall backend (weaviate-client v4, async): one collection per record kind, one tenant per
workspace, vectors supplied by Deputy's embedder, batch writes checked for failed objects, hybrid queries
(BM25 + vector). Every process shares the server, so records are written to it as they change.

Weaviate ≥ 1.27 is needed; REST (schema) at `DEPUTY_WEAVIATE_URL`, gRPC (queries, batches) on
`DEPUTY_WEAVIATE_GRPC_PORT`. Weaviate's embedded mode downloads a server binary at run time, so Deputy never
starts one itself."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any
from urllib.parse import urlsplit

from memory.embedder import Embedder
from memory.recall import VECTOR_WEIGHT, ChangeFeed, Hit, Item
from orchestrator.errors import ConfigError, RecallError

COLLECTIONS = {"fact": "DeputyFact", "person": "DeputyPerson", "project": "DeputyProject", "decision": "DeputyDecision"}
NAMESPACE = uuid.UUID("5b0f9a4e-3c1d-4e8f-9d47-2f0c1b7a6e51")


"""The old name of the error a refused batch raises (tests/memory/test_weaviate_adapter.py still imports it)."""


class WeaviateRecall:
    shared = True

    def __init__(
        self, url: str, grpc_port: int, embedder: Embedder, *, workspace: str = "default", api_key: str = ""
    ) -> None:
        self.url, self.grpc_port, self.embedder = url, grpc_port, embedder
        self.workspace, self.api_key = workspace, api_key
        self._client: Any = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._ready: set[str] = set()

    @classmethod
    def configured(cls, url: str | None, grpc_port: int, embedder: Embedder) -> WeaviateRecall:
        """From the settings' values (the wiring passes them): no URL is a configuration error, said once."""
        if not url:
            raise ConfigError("DEPUTY_MEMORY_BACKEND=weaviate needs DEPUTY_WEAVIATE_URL")
        return cls(url, grpc_port, embedder)

    async def client(self) -> Any:
        loop = asyncio.get_running_loop()
        if self._client is not None and self._loop is not loop:  # a client belongs to the loop it was made in
            self._client, self._ready = None, set()
        if self._client is None:
            self._loop = loop
            import weaviate

            parts = urlsplit(self.url)
            secure = parts.scheme == "https"
            self._client = weaviate.use_async_with_custom(
                http_host=parts.hostname or "localhost",
                http_port=parts.port or (443 if secure else 80),
                http_secure=secure,
                grpc_host=parts.hostname or "localhost",
                grpc_port=self.grpc_port,
                grpc_secure=secure,
                auth_credentials=weaviate.auth.AuthApiKey(self.api_key) if self.api_key else None,
                skip_init_checks=True,  # the init checks also ask PyPI for the newest client: no outside calls
            )
            await self._client.connect()
        return self._client

    async def collection(self, kind: str) -> Any:
        """The kind's collection, for this workspace's tenant (both made on first use)."""
        from weaviate.classes.config import Configure, DataType, Property
        from weaviate.classes.tenants import Tenant

        client, name = await self.client(), COLLECTIONS[kind]
        if name not in self._ready:
            if not await client.collections.exists(name):
                await client.collections.create(
                    name,
                    properties=[
                        Property(name="record_id", data_type=DataType.TEXT, skip_vectorization=True),
                        Property(name="text", data_type=DataType.TEXT),
                    ],
                    vector_config=Configure.Vectors.self_provided(),
                    multi_tenancy_config=Configure.multi_tenancy(enabled=True, auto_tenant_creation=True),
                )
            collection = client.collections.get(name)
            if self.workspace not in await collection.tenants.get():
                await collection.tenants.create([Tenant(name=self.workspace)])
            self._ready.add(name)
        return client.collections.get(name).with_tenant(self.workspace)

    async def upsert(self, items: list[Item]) -> None:
        from weaviate.classes.data import DataObject

        if not items:
            return
        vectors = await self.embedder.embed([i.text for i in items])
        for kind in {i.kind for i in items}:
            chosen = [(i, v) for i, v in zip(items, vectors, strict=True) if i.kind == kind]
            collection = await self.collection(kind)
            await self._delete(collection, [i.id for i, _ in chosen])
            objects = [
                DataObject(properties={"record_id": i.id, "text": i.text}, uuid=object_id(i.id), vector=v.tolist())
                for i, v in chosen
            ]
            result = await collection.data.insert_many(objects)
            if result.has_errors:  # batch failures don't raise: check them (LIBRARY-NOTES)
                failed = "; ".join(f"{chosen[n][0].id}: {e.message}" for n, e in list(result.errors.items())[:5])
                raise RecallError(f"{len(result.errors)} of {len(objects)} records were not stored: {failed}")

    async def delete(self, ids: list[str]) -> None:
        for kind in COLLECTIONS:
            await self._delete(await self.collection(kind), ids)

    @staticmethod
    async def _delete(collection: Any, ids: list[str]) -> None:
        from weaviate.classes.query import Filter

        if ids:
            await collection.data.delete_many(where=Filter.by_id().contains_any([object_id(i) for i in ids]))

    async def search(self, query: str, limit: int = 5, kinds: tuple[str, ...] = ()) -> list[Hit]:
        from weaviate.classes.query import MetadataQuery

        [vector] = await self.embedder.embed([query])
        hits: list[Hit] = []
        for kind in kinds or tuple(COLLECTIONS):
            collection = await self.collection(kind)
            found = await collection.query.hybrid(
                query=query,
                vector=vector.tolist(),
                alpha=VECTOR_WEIGHT,
                limit=limit,
                return_metadata=MetadataQuery(score=True),
            )
            hits += [Hit(str(o.properties["record_id"]), float(o.metadata.score or 0.0)) for o in found.objects]
        return sorted(hits, key=lambda h: -h.score)[:limit]

    async def refresh(self, feed: ChangeFeed, *, now: bool = False) -> None:
        """Nothing to catch up: every process writes to the shared server as records change."""

    async def count(self) -> int:
        total = 0
        for kind in COLLECTIONS:
            result = await (await self.collection(kind)).aggregate.over_all(total_count=True)
            total += int(result.total_count or 0)
        return total

    async def close(self) -> None:
        if self._client is not None:
            await self._client.close()
            self._client = None


def object_id(record_id: str) -> str:
    """A record's object id, stable across processes: re-writing a record replaces it."""
    return str(uuid.uuid5(NAMESPACE, record_id))
