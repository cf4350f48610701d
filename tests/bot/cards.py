"""Proposals to render, shared by the channel renderers' tests."""

from __future__ import annotations

from datetime import UTC, datetime

from orchestrator.model import ChatRef, Proposal, StagedAction

AT = datetime(2026, 11, 3, 9, 14, tzinfo=UTC)


def proposal(*, body: str = "Hi Jane,\nA friendly nudge about invoice 42.\nSam", pid: str = "p7k2m9qx") -> Proposal:
    action = StagedAction(
        kind="email.send",
        fields={"to": "jane@acme.com", "subject": "Invoice 42 <overdue> & more", "body": body},
        summary="Send email “Invoice 42 <overdue> & more” to jane@acme.com",
        target="jane@acme.com",
        subject="Invoice 42 <overdue> & more",
        body=body,
    )
    return Proposal(
        id=pid,
        task_id="t1",
        chat=ChatRef("telegram", "42"),
        playbook="email",
        summary="Follow up with Jane on invoice 42",
        actions=[action],
        created_at=AT,
        cost_estimate_usd=0.003,
    )
