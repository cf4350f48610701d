"""Shadow runs over a ledger recorded through the real path (the coordinator, the real runner on the offline model,
requests from Slack, Telegram, the console and a signed hook): the same playbooks draft the same actions; a set
without the email playbook sends the email requests elsewhere; and while it runs, the SMTP server, the fake
Slack and Telegram APIs and the webhook receiver see nothing, and the ledger gains only model calls marked shadow."""

from __future__ import annotations

import asyncio
import json
import shutil
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from bot.shadow import run_shadow
from bot.wiring import Runtime, build_runtime
from memory import keys
from orchestrator import commands as cmd
from orchestrator.model import Actor, ChatRef, Task, Verdict
from orchestrator.words import memory_ask
from tests.conftest import Smtp, deputy, settings_from
from tests.connectors.receiver import Receiver
from tests.fakes import slack_api as slack
from tests.fakes import telegram_api as telegram
from tests.fakes.openai_api import FakeOpenAI
from tests.fakes.slack_api import FakeSlack
from tests.fakes.telegram_api import FakeBotApi

BUILT_IN = Path(__file__).resolve().parents[2] / "config" / "playbooks"
CONSOLE = ChatRef("console", "local")
YOU = Actor("console", "op", "you")
ON_SLACK, SLACK_DM = Actor("slack", slack.OPERATOR, "sam"), ChatRef("slack", slack.DM)
ON_TELEGRAM, TELEGRAM_CHAT = (
    Actor("telegram", str(telegram.OPERATOR_ID), "sam"),
    ChatRef("telegram", str(telegram.CHAT)),
)
LEAD = '{"email": "lead@example.org", "name": "Ann Lee", "message": "Do you ship to Norway?"}'


@dataclass
class World:
    runtime: Runtime
    env: dict[str, str]
    slack: FakeSlack
    telegram: FakeBotApi
    receiver: Receiver
    smtp: Smtp

    async def seen(self) -> dict[str, Any]:
        """Everything a shadow run must leave as it was (model calls aside)."""
        redis = self.runtime.redis
        events = [e for _, e in await self.runtime.ledger.read(count=100_000) if e.type != "ModelCalled"]
        records = sorted(
            [k for kind in ("task", "proposal") async for k in redis.scan_iter(match=keys.record(kind, "*"))]
        )
        turns = {k: await redis.lrange(k, 0, -1) async for k in redis.scan_iter(match=keys.memory("ws:*"))}
        return {
            "events": [(e.type, e.task_id) for e in events],
            "records": records,
            "data": [await redis.hget(k, "data") for k in records],
            "turns": turns,
            "queued": await redis.llen("rq:queue:deputy"),
            "memory": await redis.xlen(keys.memory("changes")),
            "console": await redis.xlen(keys.console("local")),
            "slack": len(self.slack.calls),
            "telegram": len(self.telegram.calls),
            "webhook": len(self.receiver.requests),
            "smtp": len(self.smtp.messages),
        }


@pytest.fixture
async def world(env: dict[str, str], smtp: Smtp) -> AsyncIterator[World]:
    slack_api, telegram_api, receiver = FakeSlack(), FakeBotApi(), Receiver()
    runners = [await slack.start(slack_api), await telegram.start(telegram_api), await receiver.start()]
    full = {
        **env,
        "SLACK_BOT_TOKEN": slack.BOT_TOKEN,
        "SLACK_SIGNING_SECRET": slack.SIGNING_SECRET,
        "DEPUTY_SLACK_API_URL": slack_api.base,
        "TELEGRAM_BOT_TOKEN": telegram.TOKEN,
        "DEPUTY_TELEGRAM_API_URL": telegram_api.base,
        "DEPUTY_OPERATORS": f"slack:{slack.OPERATOR},telegram:{telegram.OPERATOR_ID}",
        "DEPUTY_WEBHOOKS": f"crm={receiver.url}",
    }
    runtime = build_runtime(settings_from(full), full["REDIS_URL"])
    yield World(runtime, full, slack_api, telegram_api, receiver, smtp)
    await runtime.close()
    for runner in runners:
        await runner.cleanup()


async def worked(runtime: Runtime, task_id: str) -> Task:
    """What a worker's `run_task` does, in this loop: start, draft with the real runner, complete."""
    task = await runtime.coordinator.handle(cmd.StartTask(task_id))
    await runtime.coordinator.handle(cmd.CompleteDraft(task_id, await runtime.drafter.draft(task)))
    found = await runtime.store.get_task(task_id)
    assert found is not None
    return found


async def request(runtime: Runtime, text: str, actor: Actor = YOU, chat: ChatRef = CONSOLE) -> Task:
    submit = cmd.SubmitTask(text=text, actor=actor, chat=chat, event_id=f"rec-{text[:24]}", memory=memory_ask(text))
    return await worked(runtime, await runtime.coordinator.handle(submit))


async def approve(runtime: Runtime, task: Task, actor: Actor, chat: ChatRef) -> None:
    assert task.proposal_id
    decide = cmd.DecideProposal(proposal_id=task.proposal_id, actor=actor, verdict=Verdict.APPROVE, chat=chat)
    await runtime.coordinator.handle(decide)


@pytest.fixture
async def recorded(world: World) -> World:
    """Six past requests: a memory verb, emails from Slack (approved) and Telegram (edited, then approved), a note
    (auto-approved), a post to a webhook (left pending) and a lead from a signed hook. No worker runs: the
    approved ones wait in the queue, so nothing reaches the world while recording either."""
    rt = world.runtime
    await request(rt, "remember Jane Doe is the billing contact at ACME, jane@acme.com")

    async def on_slack() -> None:
        jane = await request(rt, "email jane@acme.com about invoice 42", ON_SLACK, SLACK_DM)
        await approve(rt, jane, ON_SLACK, SLACK_DM)

    async def on_telegram() -> None:
        bob = await request(rt, "email bob@acme.com a follow-up on the contract", ON_TELEGRAM, TELEGRAM_CHAT)
        assert bob.proposal_id
        edit = cmd.EditProposal(
            proposal_id=bob.proposal_id, actor=ON_TELEGRAM, chat=TELEGRAM_CHAT, changes={"to": "carol@acme.com"}
        )
        await rt.coordinator.handle(edit)
        await approve(rt, bob, ON_TELEGRAM, TELEGRAM_CHAT)

    await asyncio.gather(on_slack(), on_telegram())  # each chat's posts are paced (1 a second): side by side
    await request(rt, "prepare the offsite agenda")
    await request(rt, "post the launch notes to crm", ON_SLACK, SLACK_DM)
    await worked(rt, await rt.coordinator.receive_hook(name="site", body=LEAD, delivery="d1", chat=CONSOLE))
    return world


async def shadowed(world: World, capsys: pytest.CaptureFixture[str], **options: Any) -> tuple[int, dict[str, Any]]:
    chosen: dict[str, Any] = {"since": "1d", "playbooks_dir": None, "model": None, "limit": None} | options
    code = await run_shadow(settings_from(world.env), as_json=True, **chosen)
    return code, json.loads(capsys.readouterr().out)


def row(found: dict[str, Any], starts: str) -> dict[str, Any]:
    found_rows: list[dict[str, Any]] = [r for r in found["requests"] if r["text"].startswith(starts)]
    [one] = found_rows
    return one


async def test_the_same_playbooks_and_model_draft_the_same_actions_and_touch_nothing(
    recorded: World, capsys: pytest.CaptureFixture[str]
) -> None:
    before = await recorded.seen()
    code, found = await shadowed(recorded, capsys)
    assert code == 0 and found["summary"]["different"] == 0 and found["summary"]["requests"] == 5
    assert len(found["summary"]["not_replayed"]) == 1  # the /remember: replaying it would change memory
    assert all(r["same"] and r["similarity"] == 1.0 for r in found["requests"])
    assert row(found, "email jane")["now"]["actions"] == [{"kind": "email.send", "to": "jane@acme.com"}]
    bob = row(found, "email bob")
    assert bob["then"]["actions"] == [{"kind": "email.send", "to": "bob@acme.com"}]  # the first draft, not the edit
    assert bob["approved"]["actions"] == [{"kind": "email.send", "to": "carol@acme.com"}]
    assert bob["same_as_approved"] is False and found["summary"]["approved"] == {"compared": 3, "different": 1}
    assert row(found, '{"email": "lead')["now"]["actions"] == [{"kind": "email.send", "to": "lead@example.org"}]
    assert await recorded.seen() == before
    calls = [e for _, e in await recorded.runtime.ledger.read(count=100_000) if e.type == "ModelCalled"]
    shadow_calls = [c for c in calls if c.detail.get("shadow")]
    assert shadow_calls and all("(shadow)" in c.summary for c in shadow_calls)
    assert len(calls) == 2 * len(shadow_calls)  # each drafted once then, once now (the hook drafts without a model)


async def test_without_the_email_playbook_the_email_requests_differ(
    recorded: World, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    books = tmp_path / "books"
    books.mkdir()
    for name in ("answer", "note", "webhook"):
        shutil.copy(BUILT_IN / f"{name}.yaml", books)
    before = await recorded.seen()
    code, found = await shadowed(recorded, capsys, playbooks_dir=books)
    assert code == 1 and found["summary"]["differences"] == {"playbook": 2}
    worst = found["requests"][:2]  # the worst differences first
    assert {r["text"][:18] for r in worst} == {"email jane@acme.co", "email bob@acme.com"}
    assert all(r["then"]["playbook"] == "email" and r["now"]["playbook"] != "email" for r in worst)
    assert all(r["same"] for r in found["requests"][2:])  # the note, the webhook, the hook's lead
    assert await recorded.seen() == before


async def test_the_report_reads_worst_first_with_a_summary(
    recorded: World, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    books = tmp_path / "books"
    shutil.copytree(BUILT_IN, books, ignore=shutil.ignore_patterns("email.yaml"))
    code = await run_shadow(
        settings_from(recorded.env), since="1d", playbooks_dir=books, model=None, limit=None, as_json=False
    )
    lines = capsys.readouterr().out.splitlines()
    assert code == 1 and lines[0].startswith("Past requests since ") and str(books) in lines[0]
    assert lines[1].startswith("Memory is read as it is now")
    assert lines[3].startswith("DIFFERS") and lines[4].startswith("DIFFERS") and lines[5].startswith("same")
    assert "playbook: email: email.send jane@acme.com → note: note.save" in "\n".join(lines[3:5])
    assert "5 requests: 3 same action, 2 differ (2 playbook); cost $0.00 then → $0.00 now" in lines
    assert "1 request(s) not replayed: a /remember or /forget would change memory." in lines
    assert lines[-1] == "Nothing was applied, posted or staged."


async def test_limit_takes_the_latest_requests(recorded: World, capsys: pytest.CaptureFixture[str]) -> None:
    code, found = await shadowed(recorded, capsys, limit=2)
    assert code == 0 and sorted(r["text"][:12] for r in found["requests"]) == ["post the lau", '{"email": "l']


def test_bad_input_is_one_line_and_exit_2(env: dict[str, str], tmp_path: Path) -> None:
    invalid = tmp_path / "invalid"
    invalid.mkdir()
    (invalid / "email.yaml").write_text((BUILT_IN / "email.yaml").read_text().replace("type: email", "type: phone"))
    for args, says in (
        (("--since", "last week"), "--since 'last week'"),
        (("--playbooks", str(tmp_path / "nowhere")), f"--playbooks {tmp_path / 'nowhere'}: no such directory"),
        (("--playbooks", str(invalid)), f"playbook {invalid / 'email.yaml'}: fields.to.type"),
        (("--limit", "0"), "--limit 0: give 1 or more"),
    ):
        result = deputy("shadow", *args, env=env, cwd=tmp_path)
        assert result.returncode == 2 and says in result.stderr and result.stderr.count("\n") == 1, result.stderr


async def test_the_row_that_differs_from_what_was_approved_says_so(
    recorded: World, capsys: pytest.CaptureFixture[str]
) -> None:
    code = await run_shadow(
        settings_from(recorded.env), since="1d", playbooks_dir=None, model=None, limit=None, as_json=False
    )
    lines = capsys.readouterr().out.splitlines()
    marked = [line for line in lines if "differs from what was approved" in line]
    assert code == 0 and len(marked) == 1 and "email bob" in marked[0] and "(recipient)" in marked[0], lines


async def test_a_model_that_fails_now_is_marked_apart_from_differences(
    recorded: World, capsys: pytest.CaptureFixture[str], openai_server: tuple[FakeOpenAI, str]
) -> None:
    """Issue 29 (#29): a row the model couldn't draft says FAILED and is counted apart from what differs."""
    server, base = openai_server
    server.script.extend([{"status": 401, "message": "Incorrect API key provided"}] * 20)
    dead = {**recorded.env, "DEPUTY_LLM_API_BASE": base, "DEPUTY_LLM_RETRIES": "0"}
    code = await run_shadow(
        settings_from(dead), since="1d", playbooks_dir=None, model="openai/x", limit=2, as_json=False
    )
    lines = capsys.readouterr().out.splitlines()
    failed = [line for line in lines if line.startswith("FAILED")]
    assert code == 1 and failed and all("I couldn't draft this" in line for line in failed), lines
    assert not [line for line in lines if line.startswith("DIFFERS")]
    assert f"0 differ, {len(failed)} couldn't draft now; cost" in "\n".join(lines)
