"""Issue 26's "Done when", end to end through the console channel with a real worker, Redis and SMTP: after
onboarding Piotr Kowalski, "email Piotr about the kickoff" drafts to his address with no /remember; /who shows
him, the welcome email and the pending proposal; an agent-proposed terms change is a field change on a card,
applied once; /merge joins two records and their timelines; /forget client leaves no trace in /who, recall or a
re-import, and `deputy replay` agrees afterwards."""

from __future__ import annotations

import json
from pathlib import Path

from bot.wiring import Runtime
from tests.conftest import Smtp, Workers, deputy
from tests.e2e.helpers import converse, proposal_id

ONBOARD = "onboard Piotr Kowalski piotr@northwind.example"


async def onboarded(runtime: Runtime, smtp: Smtp) -> None:
    pid = proposal_id(await converse(runtime, ONBOARD))
    done = await converse(runtime, f"/approve {pid}")
    assert "Created client Piotr Kowalski (c1)" in done, done
    assert [m["To"] for m in smtp.messages] == ["piotr@northwind.example"]


async def test_a_client_from_onboarding_is_reached_by_name_and_shown_by_who(
    runtime: Runtime, workers: Workers, smtp: Smtp, env: dict[str, str], tmp_path: Path
) -> None:
    workers.start()
    await onboarded(runtime, smtp)
    card = await converse(runtime, "email Piotr about the kickoff")
    kickoff = proposal_id(card)
    assert "to piotr@northwind.example" in card and "Hi Piotr," in card, card
    assert "📎 from: “Piotr Kowalski <piotr@northwind.example> — client; status a…” (c1, updated (v3)" in card
    who = await converse(runtime, "/who northwind.example")
    assert "Piotr Kowalski (c1) · client · active" in who
    assert "email.send: Sent to piotr@northwind.example" in who
    assert f"waiting: {kickoff} Email piotr@northwind.example: About the kickoff" in who
    assert "emails: piotr@northwind.example — approved action" in who
    await converse(runtime, f"/reject {kickoff}")
    assert "rejected: Email piotr@northwind.example: About the kickoff (by you)" in await converse(
        runtime, "/who Piotr"
    )

    await converse(runtime, "/client Piotr Kowalski terms net 30")
    change = await converse(runtime, "Piotr Kowalski moved to net 45, update their terms")
    pid = proposal_id(change)
    assert "Update Piotr Kowalski — terms: net 30 → net 45" in change, change
    assert "Updated Piotr Kowalski: terms net 30 → net 45" in await converse(runtime, f"/approve {pid}")
    assert "already approved" in await converse(runtime, f"/approve {pid}")
    assert "terms: net 45 — approved action" in await converse(runtime, "/who Piotr Kowalski")
    assert deputy("replay", env=env, cwd=tmp_path).returncode == 0
    per_client = "Per client:\n  Piotr Kowalski: 1 email.send, 1 note.save, 1 record.create, 1 record.update"
    assert per_client in await converse(runtime, "/stats")
    digest = await converse(runtime, "/digest")
    assert "By client this week: Piotr Kowalski: 1 email.send, 1 note.save, 1 record.create, 1 record.update" in digest
    stats = json.loads(deputy("stats", "--json", env=env, cwd=tmp_path).stdout)
    assert stats["clients"]["c1"]["email.send"] == 1


async def test_merge_then_forget_leaves_no_trace(
    runtime: Runtime, workers: Workers, smtp: Smtp, env: dict[str, str], tmp_path: Path
) -> None:
    workers.start()
    await onboarded(runtime, smtp)
    await converse(runtime, "/client P Kowalski email pk@gmail.com", "/remember Piotr Kowalski likes tea")
    merged = await converse(runtime, "/merge Piotr Kowalski and pk@gmail.com")
    assert "Merged P Kowalski (c2) into Piotr Kowalski (c1)" in merged
    who = await converse(runtime, "/who pk@gmail.com")
    assert "Piotr Kowalski (c1)" in who and "merged c2" in who and "Sent to piotr@northwind.example" in who
    recalled = await converse(runtime, "/recall northwind")  # recall indexes the records' text
    assert "c1 · Piotr Kowalski <piotr@northwind.example, pk@gmail.com> — client" in recalled, recalled
    assert "c2 ·" not in recalled

    gone = await converse(runtime, "/forget client Piotr Kowalski")
    assert "Forgot client c1 for good" in gone
    assert "No client or project matches" in await converse(runtime, "/who northwind.example")
    assert "Nothing in memory matches" in await converse(runtime, "/recall Piotr Kowalski tea")
    assert "Nothing in memory matches" in await converse(runtime, "/recall northwind")
    csv = tmp_path / "back.csv"
    csv.write_text("name,email\nPiotr Kowalski,piotr@northwind.example\n")
    again = deputy("import", str(csv), "--apply", env=env, cwd=tmp_path).stdout
    assert "line 2: skipped: a forgotten client" in again
    replay = deputy("replay", env=env, cwd=tmp_path)
    assert replay.returncode == 0, replay.stdout
