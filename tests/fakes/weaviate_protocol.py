"""A PROTOCOL-LEVEL FAKE of Weaviate — not Weaviate. It speaks the wire protocols the real weaviate-client v4
uses (REST for meta, schema and tenants; gRPC `weaviate.v1.Weaviate` for batch, delete, search, tenants and
aggregate, built from the client's own generated stubs) and keeps objects in a dict, scoring hybrid queries
with cosine similarity plus word overlap. It exists to test Deputy's adapter (memory/weaviate_recall.py) where no
Weaviate server can run; the contract suite runs against a real server when DEPUTY_WEAVIATE_URL is set.

Only what the adapter uses is implemented; anything else answers UNIMPLEMENTED or 404."""

from __future__ import annotations

import re
import struct
import uuid
from dataclasses import dataclass, field
from typing import Any

import grpc
from aiohttp import web
from weaviate.proto.v1 import (
    aggregate_pb2,
    batch_delete_pb2,
    batch_pb2,
    properties_pb2,
    search_get_pb2,
    tenants_pb2,
    weaviate_pb2_grpc,
)

VERSION = "1.32.0"


@dataclass
class Stored:
    id: str
    properties: dict[str, str]
    vector: list[float]


@dataclass
class FakeWeaviate:
    classes: dict[str, dict[str, Any]] = field(default_factory=dict)
    tenants: dict[str, set[str]] = field(default_factory=dict)
    objects: dict[tuple[str, str], dict[str, Stored]] = field(default_factory=dict)
    fail_ids: set[str] = field(default_factory=set)
    """Record ids whose batch insert reports an error (to test failed-object checks)."""

    # ---- REST -------------------------------------------------------------------------------------------

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/v1/meta", self.meta)
        app.router.add_get("/v1/.well-known/ready", self.ready)
        app.router.add_get("/v1/schema/{name}", self.get_class)
        app.router.add_post("/v1/schema", self.create_class)
        app.router.add_post("/v1/schema/{name}/tenants", self.create_tenants)
        return app

    async def ready(self, request: web.Request) -> web.Response:
        return web.json_response({})

    async def meta(self, request: web.Request) -> web.Response:
        return web.json_response({"version": VERSION, "hostname": "fake", "modules": {}})

    async def get_class(self, request: web.Request) -> web.Response:
        found = self.classes.get(request.match_info["name"])
        return web.json_response(found) if found else web.json_response({"error": []}, status=404)

    async def create_class(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.classes[body["class"]] = body
        self.tenants.setdefault(body["class"], set())
        return web.json_response(body)

    async def create_tenants(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.tenants.setdefault(request.match_info["name"], set()).update(t["name"] for t in body)
        return web.json_response(body)

    # ---- gRPC -------------------------------------------------------------------------------------------

    def servicer(self) -> Any:
        fake = self

        class Servicer(weaviate_pb2_grpc.WeaviateServicer):
            async def BatchObjects(self, request: Any, context: Any) -> Any:
                return fake.batch(request)

            async def BatchDelete(self, request: Any, context: Any) -> Any:
                return fake.delete(request)

            async def Search(self, request: Any, context: Any) -> Any:
                return fake.search(request)

            async def TenantsGet(self, request: Any, context: Any) -> Any:
                names = sorted(fake.tenants.get(request.collection, set()))
                return tenants_pb2.TenantsGetReply(
                    tenants=[
                        tenants_pb2.Tenant(name=n, activity_status=tenants_pb2.TENANT_ACTIVITY_STATUS_HOT)
                        for n in names
                    ]
                )

            async def Aggregate(self, request: Any, context: Any) -> Any:
                count = len(fake.objects.get((request.collection, request.tenant), {}))
                return aggregate_pb2.AggregateReply(
                    single_result=aggregate_pb2.AggregateReply.Single(objects_count=count)
                )

        return Servicer()

    def batch(self, request: Any) -> Any:
        errors = []
        for index, obj in enumerate(request.objects):
            props = _struct_texts(obj.properties.non_ref_properties)
            if props.get("record_id") in self.fail_ids:
                errors.append(batch_pb2.BatchObjectsReply.BatchError(index=index, error="vector has wrong length"))
                continue
            store = self.objects.setdefault((obj.collection, obj.tenant), {})
            if obj.uuid in store:
                errors.append(batch_pb2.BatchObjectsReply.BatchError(index=index, error="id already exists"))
                continue
            store[obj.uuid] = Stored(obj.uuid, props, _vector(obj))
        return batch_pb2.BatchObjectsReply(took=0.001, errors=errors)

    def delete(self, request: Any) -> Any:
        store = self.objects.setdefault((request.collection, request.tenant), {})
        wanted = set(request.filters.value_text_array.values)
        gone = [i for i in list(store) if i in wanted]
        for object_id in gone:
            del store[object_id]
        return batch_delete_pb2.BatchDeleteReply(took=0.001, matches=len(gone), successful=len(gone))

    def search(self, request: Any) -> Any:
        store = self.objects.get((request.collection, request.tenant), {})
        hybrid = request.hybrid_search
        query = _unpack(hybrid.vector_bytes) or list(hybrid.vector) or _first_vector(hybrid)
        alpha = hybrid.alpha if hybrid.use_alpha_param or hybrid.alpha else 0.75
        words = set(re.findall(r"\w+", hybrid.query.lower()))
        scored = []
        for stored in store.values():
            cosine = sum(a * b for a, b in zip(query, stored.vector, strict=False)) if query else 0.0
            text_words = set(re.findall(r"\w+", stored.properties.get("text", "").lower()))
            keyword = len(words & text_words) / len(words) if words else 0.0
            scored.append((alpha * max(cosine, 0.0) + (1 - alpha) * keyword, stored))
        scored.sort(key=lambda pair: -pair[0])
        results = [
            search_get_pb2.SearchResult(
                properties=search_get_pb2.PropertiesResult(
                    non_ref_props=properties_pb2.Properties(
                        fields={k: properties_pb2.Value(text_value=v) for k, v in stored.properties.items()}
                    ),
                    target_collection=request.collection,
                ),
                metadata=search_get_pb2.MetadataResult(
                    id=stored.id, id_as_bytes=uuid.UUID(stored.id).bytes, score=score, score_present=True
                ),
            )
            for score, stored in scored[: request.limit or 10]
        ]
        return search_get_pb2.SearchReply(took=0.001, results=results)


def _struct_texts(struct_value: Any) -> dict[str, str]:
    return {k: v.string_value for k, v in struct_value.fields.items()} if hasattr(struct_value, "fields") else {}


def _unpack(raw: bytes) -> list[float]:
    return list(struct.unpack(f"<{len(raw) // 4}f", raw)) if raw else []


def _first_vector(hybrid: Any) -> list[float]:
    for vectors in getattr(hybrid, "vectors", []):
        return _unpack(vectors.vector_bytes)
    near = getattr(hybrid, "near_vector", None)
    if near is not None:
        if near.vector_bytes:
            return _unpack(near.vector_bytes)
        for vectors in near.vectors:
            return _unpack(vectors.vector_bytes)
    return []


def _vector(obj: Any) -> list[float]:
    if obj.vector_bytes:
        return _unpack(obj.vector_bytes)
    for vectors in obj.vectors:
        return _unpack(vectors.vector_bytes)
    return list(obj.vector)


async def start(http_port: int) -> tuple[FakeWeaviate, web.AppRunner, Any, int]:
    """Both halves on loopback, and the gRPC half's port: gRPC binds a port it picks itself (one found free
    beforehand can be taken by another test process before the bind). Stop with `await runner.cleanup()` and
    `await server.stop(None)`."""
    from tests.conftest import serve

    fake = FakeWeaviate()
    runner = await serve(fake.app(), http_port)
    server = grpc.aio.server()
    weaviate_pb2_grpc.add_WeaviateServicer_to_server(fake.servicer(), server)  # type: ignore[no-untyped-call]
    grpc_port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    return fake, runner, server, grpc_port
