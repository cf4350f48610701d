"""Standing grants ("Always allow") for MCP tools: one per tool, held in Redis with the fingerprint of the tool as
the operator saw it, each change written with its ledger event in one transaction. A grant whose tool changed
(description or input schema: an injection surface) is suspended, not used, until the operator allows it again."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime

from redis.asyncio import Redis

from memory.codec import text
from memory.store import RedisStore
from orchestrator import events as ev

GRANTS = "deputy:mcp:grants"
"""Hash: grant id → the grant as JSON."""


@dataclass(frozen=True)
class Grant:
    id: str
    tool: str
    fingerprint: str
    by: str
    at: str
    task_id: str
    proposal_id: str
    status: str = "active"
    """`active`, `suspended` (the tool changed since) or `revoked`."""
    why: str = ""

    def line(self) -> str:
        when = self.at[:16].replace("T", " ")
        state = {"active": "", "suspended": f" · SUSPENDED: {self.why}", "revoked": f" · revoked {self.why}"}
        return f"{self.id} · {self.tool} · allowed by {self.by} {when} UTC{state.get(self.status, '')}"


class GrantBook:
    def __init__(self, redis: Redis) -> None:
        self.redis, self.store = redis, RedisStore(redis)

    async def all(self) -> list[Grant]:
        found = await self.redis.hgetall(GRANTS)
        grants = [Grant(**json.loads(text(raw))) for raw in found.values()]
        return sorted(grants, key=lambda g: g.at)

    async def standing(self, tool: str) -> Grant | None:
        """The tool's grant that is not revoked (active or suspended), if any."""
        return next((g for g in reversed(await self.all()) if g.tool == tool and g.status != "revoked"), None)

    async def get(self, grant_id: str) -> Grant | None:
        raw = await self.redis.hget(GRANTS, grant_id)
        return Grant(**json.loads(text(raw))) if raw else None

    async def create(self, grant: Grant) -> None:
        """A new grant replaces the tool's standing one (revoked in the same write)."""
        old = await self.standing(grant.tool)
        changes: list[tuple[Grant, ev.Event]] = []
        if old is not None:
            gone = replace(old, status="revoked", why=f"(replaced by {grant.id})")
            changes.append((gone, _event(ev.GrantRevoked, gone, grant.by, f"replaced by {grant.id}")))
        said = f"{grant.by} always allows {grant.tool} (grant {grant.id})"
        changes.append((grant, _event(ev.GrantCreated, grant, grant.by, said)))
        await self._write(changes)

    async def revoke(self, grant: Grant, by: str) -> Grant:
        gone = replace(grant, status="revoked", why=f"by {by}")
        await self._write([(gone, _event(ev.GrantRevoked, gone, by, f"{by} revoked grant {grant.id} ({grant.tool})"))])
        return gone

    async def suspend(self, grant: Grant, why: str) -> Grant:
        held = replace(grant, status="suspended", why=why)
        await self._write([(held, _event(ev.GrantSuspended, held, "deputy", f"grant {grant.id} suspended: {why}"))])
        return held

    async def _write(self, changes: list[tuple[Grant, ev.Event]]) -> None:
        async with self.redis.pipeline(transaction=True) as pipe:
            for grant, _ in changes:
                pipe.hset(GRANTS, grant.id, json.dumps(asdict(grant)))
            await self.store.append_on(pipe, [event for _, event in changes])
            await pipe.execute()


def _event(cls: type[ev.Event], grant: Grant, actor: str, summary: str) -> ev.Event:
    detail = {"grant": grant.id, "tool": grant.tool, "fingerprint": grant.fingerprint, "status": grant.status}
    return cls(
        at=datetime.now(UTC),
        task_id=grant.task_id,
        proposal_id=grant.proposal_id or None,
        actor=actor,
        summary=summary,
        detail=detail,
    )
