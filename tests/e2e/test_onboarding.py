"""The built-in onboarding playbook end to end, offline model, real worker, SMTP, webhook receiver and notes:
"onboard Piotr Kowalski piotr@northwind.example" is one card of three actions, and one approval sends exactly
one email, one CRM post and one note; when the CRM refuses, the email went once, the note was not run, and the
card says which."""

from __future__ import annotations

import json
from pathlib import Path

from bot.wiring import Runtime
from connectors.notes import NOTES
from tests.conftest import Smtp, Workers, deputy
from tests.connectors.receiver import Receiver
from tests.e2e.helpers import converse, proposal_id
from tests.e2e.test_several_actions import crm, crm_env, crm_workers, receiver

__all__ = ["crm", "crm_env", "crm_workers", "receiver"]  # the fixtures this module shares
ONBOARD = "onboard Piotr Kowalski piotr@northwind.example"


async def test_one_approval_sends_one_email_one_crm_post_and_one_note(
    crm: Runtime, crm_workers: Workers, smtp: Smtp, receiver: Receiver, crm_env: dict[str, str], tmp_path: Path
) -> None:
    crm_workers.start()
    card = await converse(crm, ONBOARD)
    pid = proposal_id(card)
    assert "│ Onboard Piotr Kowalski: welcome email, CRM post, client note\n" in card
    assert "│ Send email “Welcome, Piotr” to piotr@northwind.example\n" in card
    assert "Post “New client: Piotr Kowalski <piotr@northwind.example>” to webhook crm" in card
    assert "Save the note “Client: Piotr Kowalski” to Deputy's decisions" in card
    done = await converse(crm, f"/approve {pid}")
    sent = "Sent to piotr@northwind.example; Posted to webhook crm (200); Saved note “Client: Piotr Kowalski”"
    assert f"Done: {sent}" in done
    assert [m["To"] for m in smtp.messages] == ["piotr@northwind.example"]
    assert smtp.messages[0]["Subject"] == "Welcome, Piotr"
    assert [r.key for r in receiver.requests] == [f"{pid}:1"]
    assert json.loads(receiver.requests[0].body)["client"] == "Piotr Kowalski"
    note = json.loads(await crm.redis.hget(NOTES, f"{pid}:2") or "{}")
    assert note["title"] == "Client: Piotr Kowalski"
    assert deputy("replay", env=crm_env, cwd=tmp_path).returncode == 0


async def test_when_the_crm_refuses_the_note_is_not_run_and_the_card_says_so(
    crm: Runtime, crm_workers: Workers, smtp: Smtp, receiver: Receiver
) -> None:
    crm_workers.start()
    receiver.statuses = [400]
    pid = proposal_id(await converse(crm, ONBOARD))
    done = await converse(crm, f"/approve {pid}")
    assert "✗ Failed: 1 of 4 actions failed · approved by you" in done  # the 4th: the client's record (issue 26)
    assert "\n✓ Sent to piotr@northwind.example\n✗ webhook crm refused it with 400: nope: bad field\n" in done
    assert "\n– not run: Save the note “Client: Piotr Kowalski” to Deputy's decisions\n" in done
    assert "\n– not run: Create client Piotr Kowalski (piotr@northwind.example) in Deputy's records\n" in done
    assert len(smtp.messages) == 1 and len(receiver.requests) == 1
    assert not await crm.redis.hexists(NOTES, f"{pid}:2")
