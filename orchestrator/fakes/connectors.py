"""Fake connectors: email-like deliveries counted by key, with injected failures and crashes, and `task.later`
without Redis."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from orchestrator.errors import BadRequest, ConnectorError, PermanentConnectorError, TransientConnectorError
from orchestrator.fakes.books import InMemoryLater
from orchestrator.kinds import Preview, Traits
from orchestrator.ports import HandOver, Scheduled, no_hand_over


class Crashed(BaseException):
    """The process running the connector died here: nothing after this point runs (no outcome is recorded).
    A BaseException, so no `except Exception` on the way out mistakes it for a connector error."""


@dataclass
class FakeConnector:
    """Counts deliveries by key. `fail_next` raises a transient error that many times first; `refuse_next`
    a permanent one; `crash_next` makes the next call die, `"before"` its hand-over (nothing delivered) or
    `"after"` it (the far side got it, Deputy never heard back); `lose_next` hands over, delivers nothing and
    reports a dropped connection (it can't tell)."""

    kind: str = "email.send"
    resend_safe: bool = False
    declared: Traits | None = None
    """Its kind's traits; without them it leaves Deputy and saves no one's time."""
    blocked: str = ""
    fail_next: int = 0
    refuse_next: int = 0
    crash_next: str = ""
    lose_next: bool = False
    delivered: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    def validate(self, fields: dict[str, Any]) -> dict[str, Any]:
        if "@" not in str(fields.get("to", "")):
            raise BadRequest(f"'{fields.get('to')}' is not an email address.")
        return dict(fields)

    @property
    def traits(self) -> Traits:
        return self.declared or Traits(self.kind, outward=True)

    def preview(self, fields: dict[str, Any]) -> Preview:
        subject, body = str(fields.get("subject", "")), str(fields.get("body", ""))
        return Preview(f"Send '{subject}' to {fields['to']}", str(fields["to"]), subject=subject, body=body)

    def unavailable(self) -> str:
        return self.blocked

    async def apply(self, fields: dict[str, Any], idempotency_key: str, handing_over: HandOver = no_hand_over) -> str:
        if self.fail_next:
            self.fail_next -= 1
            raise TransientConnectorError("connection refused")
        if self.refuse_next:
            self.refuse_next -= 1
            raise PermanentConnectorError(f"{self._target(fields)} refused it with 400: bad field")
        crash, self.crash_next = self.crash_next, ""
        if crash == "before":
            raise Crashed("killed before the hand-over")
        await handing_over()
        if self.lose_next:
            self.lose_next = False
            raise ConnectorError("the connection broke mid-send")
        self.delivered.append((idempotency_key, fields))
        if crash == "after":
            raise Crashed("killed after the hand-over")
        return f"Sent to {self._target(fields)}"

    def _target(self, fields: dict[str, Any]) -> str:
        return str(fields.get("to") or fields.get("title") or self.kind)


LATER = Traits("task.later", noun="request", done="scheduled")


@dataclass
class FakeLaterConnector:
    """`task.later` without Redis: applying schedules the request in an `InMemoryLater`."""

    later: InMemoryLater
    kind: str = "task.later"
    resend_safe: bool = True
    traits: Traits = LATER

    def validate(self, fields: dict[str, Any]) -> dict[str, Any]:
        if not str(fields.get("request", "")).strip():
            raise BadRequest("A task for later needs what to do then.")
        return {"request": fields["request"], "at": str(fields["at"]), "remind": bool(fields.get("remind"))}

    def preview(self, fields: dict[str, Any]) -> Preview:
        return Preview(summary=f"At {fields['at']} I'll draft: {fields['request']}", target="this chat")

    def unavailable(self) -> str:
        return ""

    async def apply(self, fields: dict[str, Any], idempotency_key: str, handing_over: HandOver = no_hand_over) -> str:
        at = datetime.fromisoformat(fields["at"])
        self.later.put(Scheduled(idempotency_key, fields["request"], at, fields["remind"]))
        return f"Scheduled for {fields['at']}"
