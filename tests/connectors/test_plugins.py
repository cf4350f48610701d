"""A connector is one module: the shipped ones declare everything the rest of Deputy reads, and the example in
docs/connectors.md, loaded from the docs alone, works end to end — staged, approved by a policy rule, applied
once, listed in the digest and counted in /stats — with no edit anywhere else."""

from __future__ import annotations

import re
import types
from pathlib import Path
from typing import Any

import pytest
from redis.asyncio import Redis

from config.policy_file import load_policies
from config.settings import settings_with
from connectors.registry import Plugin, build_all, plugins, traits
from orchestrator import commands as cmd
from orchestrator.errors import ConfigError
from orchestrator.model import ProposalDraft
from orchestrator.outbound import Kind
from tests.conftest import ROOT
from tests.orchestrator.conftest import DEFAULTS, Core, core  # noqa: F401  (the in-memory core fixture)
from tests.orchestrator.test_coordinator import staged
from tests.orchestrator.test_schedule import DIGEST_CHAT, scheduler, sent

SHIPPED = {
    "email.send",
    "webhook.post",
    "note.save",
    "budget.raise",
    "task.later",
    "record.create",
    "record.update",
} | {"mcp.call", "calendar.event", "email.reply", "email.file"}


def example() -> types.ModuleType:
    """The `connectors/sms.py` of docs/connectors.md, as a module of its own."""
    doc = (ROOT / "docs" / "connectors.md").read_text()
    source = re.search(r"```python\n(# connectors/sms\.py\n.*?)```", doc, re.S)
    assert source, "docs/connectors.md has no connectors/sms.py example"
    module = types.ModuleType("sms_example")
    exec(compile(source[1], "docs/connectors.md", "exec"), module.__dict__)
    return module


def test_every_shipped_connector_declares_its_kind_settings_and_traits() -> None:
    found = {t.kind: t for p in plugins() for t in p.kinds}
    assert set(found) == SHIPPED
    built = build_all(settings_with({}), Redis())
    assert {kind: c.traits for kind, c in built.items()} == found
    assert {t.kind for t in traits(built) if t.outward} == {
        "email.send",
        "email.reply",
        "webhook.post",
        "mcp.call",
        "calendar.event",
    }
    assert {t.kind: t.minutes_saved for t in traits(built) if t.minutes_saved} == {
        "email.send": 6,
        "email.reply": 5,
        "note.save": 2,
        "webhook.post": 3,
        "mcp.call": 3,
        "calendar.event": 3,
    }


def test_a_connector_gets_its_own_settings_as_plain_values() -> None:
    email = next(p for p in plugins() if p.name == "email")
    values = email.settings(settings_with({"DEPUTY_SMTP_URL": "smtp://u:secret@h:25", "DEPUTY_EMAIL_FROM": "a@b.co"}))
    assert (values.smtp_url, values.email_from) == ("smtp://u:secret@h:25", "a@b.co")  # no SecretStr, no Settings


async def test_doctor_lines_come_from_the_connectors() -> None:
    email = next(p for p in plugins() if p.name == "email")
    assert email.doctor is not None
    [line] = await email.doctor(email.settings(settings_with({})))
    assert (
        line.line()
        == "--  Email: " + "SMTP not set: email can be drafted, not sent (set DEPUTY_SMTP_URL and DEPUTY_EMAIL_FROM)"
    )


def test_a_policy_file_may_not_hold_back_what_cannot_be_undone(tmp_path: Path) -> None:
    path = tmp_path / "policies.yaml"
    path.write_text("undoable: [budget.raise]\n")
    with pytest.raises(ConfigError, match=r"undoable: budget\.raise can't be held back with Undo"):
        load_policies(path, (t for p in plugins() for t in p.kinds))


def test_the_docs_example_is_a_plugin_with_its_own_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    plugin = Plugin.of(example())
    assert plugin is not None and plugin.traits.kind == "sms.send"
    monkeypatch.delenv("SMS_GATEWAY_URL", raising=False)
    assert "sms.send" not in build_all(settings_with({}), Redis(), extra=[plugin])  # unset: left off
    monkeypatch.setenv("SMS_GATEWAY_URL", "https://sms.example/api")
    assert "sms.send" in build_all(settings_with({}), Redis(), extra=[plugin])


async def test_the_docs_example_works_end_to_end(core: Core, tmp_path: Path) -> None:  # noqa: F811
    module = example()
    sms = module.SmsConnector("https://sms.example/api")
    applied: list[str] = []
    apply = sms.apply

    async def counted(fields: dict[str, Any], key: str, handing_over: Any = None) -> str:
        applied.append(key)
        return str(await apply(fields, key))

    sms.apply = counted
    rules = tmp_path / "policies.yaml"
    rules.write_text("auto_approve:\n  - name: texts-always\n    kind: sms.send\n")
    policies = load_policies(rules, [module.TRAITS, *(t for p in plugins() for t in p.kinds)])
    core.rewire({"sms.send": sms}, policies=policies)
    core.coordinator.core.ledger = core.store
    text = ProposalDraft(playbook="sms", summary="Text Ann", actions=[("sms.send", {"to": "+4912345", "text": "Hi"})])
    pid = await staged(core, text)
    card = next(m for _, _, m in core.outbox.sent if m.kind is Kind.CARD)
    assert card.proposal and card.proposal.actions[0].body == "Hi"  # the card quotes the preview's body
    await core.coordinator.handle(cmd.ApplyProposal(pid))
    await core.coordinator.handle(cmd.ApplyProposal(pid))
    assert applied == [f"{pid}:0"]
    await scheduler(core).post(DIGEST_CHAT, core.clock.now().date())
    [(_, digest)] = sent(core, Kind.DIGEST)
    lines = digest.text.splitlines()
    assert lines[1] == "Done (1 sent):" and lines[2].startswith("  ✓ Texted +4912345")
    await core.say("/stats")
    stats = [m.text for _, _, m in core.outbox.sent if m.kind is Kind.NOTICE][-1]
    assert "  sms.send 1: 1 as drafted" in stats.splitlines() and "Saved: ~1 min" in stats
    assert DEFAULTS.minutes.get("sms.send") is None  # its minutes came from its own traits


def test_a_connector_module_named_in_deputy_plugins_is_installed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The way a connector from outside Deputy's folders is installed, in the web process and every worker."""
    source = re.search(
        r"```python\n# connectors/sms\.py\n(.*?)```", (ROOT / "docs" / "connectors.md").read_text(), re.S
    )
    assert source
    (tmp_path / "deputy_sms_plugin.py").write_text(source[1])
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv("SMS_GATEWAY_URL", "https://sms.example/api")
    settings = settings_with({"DEPUTY_PLUGINS": "deputy_sms_plugin"})
    assert "sms.send" in build_all(settings, Redis())
    assert "sms.send" not in build_all(settings_with({}), Redis())
