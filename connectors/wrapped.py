"""A connector wrapped by another that changes one thing about it (the breaker around `apply`, the running
deployment's word on `unavailable`): everything it does not override passes straight through."""

from __future__ import annotations

from typing import Any

from orchestrator.kinds import Preview, Traits
from orchestrator.ports import Connector, HandOver, no_hand_over


class Wrapped:
    def __init__(self, inner: Connector) -> None:
        self.inner = inner
        self.kind, self.resend_safe = inner.kind, inner.resend_safe

    def __getattr__(self, name: str) -> Any:
        """What a connector offers beyond the contract (an MCP connector's grants and tool list, an `amend` hook)
        passes through."""
        if name == "inner":
            raise AttributeError(name)
        return getattr(self.inner, name)

    @property
    def traits(self) -> Traits:
        return self.inner.traits

    def validate(self, fields: dict[str, Any]) -> dict[str, Any]:
        return self.inner.validate(fields)

    def preview(self, fields: dict[str, Any]) -> Preview:
        return self.inner.preview(fields)

    def unavailable(self) -> str:
        return self.inner.unavailable()

    async def apply(self, fields: dict[str, Any], idempotency_key: str, handing_over: HandOver = no_hand_over) -> str:
        return await self.inner.apply(fields, idempotency_key, handing_over)
