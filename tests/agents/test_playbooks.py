"""Playbooks are data: built-in files load, an operator's file is picked up, bad files are refused by name."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from agents import playbooks
from bot.wiring import Runtime, build_runtime
from orchestrator import commands as cmd
from orchestrator.commands import Inbound
from orchestrator.errors import ConfigError
from tests.orchestrator.conftest import CONSOLE, ME

KINDS = frozenset(
    {"email.send", "webhook.post", "note.save", "budget.raise", "task.later", "record.create", "record.update"}
    | {"mcp.call", "calendar.event", "email.reply"}
)
DOCS_EXAMPLE = re.search(r"```yaml\n(.*?)```", (playbooks.BUILT_IN.parent.parent / "docs/llm.md").read_text(), re.S)


def test_the_built_in_playbooks_load() -> None:
    found = playbooks.load(playbooks.directories(Path("/nonexistent")), KINDS)
    assert {n: p.action for n, p in found.items()} == {
        "agenda": None,
        "answer": None,
        "calendar": "calendar.event",
        "email": "email.send",
        "inbox": "email.reply",  # sorts each email (its triage: rules) and drafts the reply to one that needs it
        "later": "task.later",
        "note": "note.save",
        "onboarding": "email.send",  # then webhook.post (where crm is configured), note.save and record.create
        "record": "record.update",
        "remind": "task.later",
        "webhook": "webhook.post",
        "tool": "mcp.call",
    }


def test_the_documented_example_loads_and_its_trigger_picks_it(tmp_path: Path) -> None:
    assert DOCS_EXAMPLE is not None
    (tmp_path / "playbooks").mkdir()
    (tmp_path / "playbooks" / "invoice-reminder.yaml").write_text(DOCS_EXAMPLE[1])
    found = playbooks.load(playbooks.directories(tmp_path), KINDS)
    picked = playbooks.by_triggers(found, "remind jane@acme.com about invoice 42")
    assert picked is not None and picked.name == "invoice-reminder" and picked.spec.approval == "ask"


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("name: raise\ndescription: d\naction: budget.raise\nfields: {x: {}}\n", "'budget.raise' is not one"),
        ("name: sms\ndescription: d\naction: sms.send\nfields: {x: {}}\n", "'sms.send' is not one"),
        ("name: x\ndescription: d\naction: null\nfields: {x: {type: phone}}\n", "fields.x.type"),
        ("name: x\ndescription: d\naction: null\ntriggers: ['(']\nfields: {x: {}}\n", "not a valid regular"),
        ("name: x\n  bad: [", "playbook"),
    ],
)
def test_a_bad_playbook_is_refused_with_its_file_and_reason(tmp_path: Path, text: str, reason: str) -> None:
    (tmp_path / "playbooks").mkdir()
    (tmp_path / "playbooks" / "mine.yaml").write_text(text)
    with pytest.raises(ConfigError, match=re.escape(reason)) as raised:
        playbooks.load(playbooks.directories(tmp_path), KINDS)
    assert "mine.yaml" in str(raised.value)


async def test_a_dropped_in_playbook_that_always_asks_overrides_auto_approval(runtime: Runtime) -> None:
    """The default policy auto-approves notes; a `note` playbook with `approval: ask` keeps them for a person."""
    directory = runtime.settings.data_dir / "playbooks"
    directory.mkdir(parents=True)
    note = (playbooks.BUILT_IN / "note.yaml").read_text().replace("approval: policy", "approval: ask")
    (directory / "note.yaml").write_text(note)
    fresh = build_runtime(runtime.settings)
    try:
        await fresh.coordinator.receive(Inbound(actor=ME, chat=CONSOLE, text="plan the offsite", event_id="e1"))
        [task_id] = await fresh.store.ids("task", "received")
        task = await fresh.coordinator.handle(cmd.StartTask(task_id))
        await fresh.coordinator.handle(cmd.CompleteDraft(task_id, await fresh.drafter.draft(task)))
        assert len(await fresh.store.ids("proposal", "pending")) == 1
        assert not await fresh.store.ids("proposal", "approved")
    finally:
        await fresh.close()
