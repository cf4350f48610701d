"""A channel and a source defined in a test module only (tests/e2e/fax_plugin.py), loaded through DEPUTY_PLUGINS
by the web app in this process and by a real worker process, on real Redis and SMTP."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from bot import channels, sources
from bot.wiring import Runtime
from tests.conftest import Smtp, Workers, eventually, settings_from
from tests.e2e import fax_plugin
from tests.e2e.helpers import web_deputy

OPERATOR = "555"


@pytest.fixture
def plugin_env(env: dict[str, str]) -> dict[str, str]:
    return {**env, "DEPUTY_PLUGINS": "tests.e2e.fax_plugin", "DEPUTY_OPERATORS": f"fax:{OPERATOR}"}


@pytest.fixture
async def deputy(plugin_env: dict[str, str], workers: Workers) -> AsyncIterator[tuple[Runtime, int]]:
    workers.start(**plugin_env)
    async with web_deputy(plugin_env) as started:
        yield started


async def pages(runtime: Runtime) -> list[dict[str, Any]]:
    return [json.loads(raw) for raw in await runtime.redis.lrange(fax_plugin.SENT, 0, -1)]


async def fax(port: int, sent: dict[str, Any]) -> None:
    async with aiohttp.ClientSession() as http, http.post(f"http://127.0.0.1:{port}/fax/in", json=sent) as response:
        assert response.status == 200


def test_the_plugins_are_found_beside_deputys_own(plugin_env: dict[str, str]) -> None:
    settings = settings_from(plugin_env)
    assert [c.platform for c in channels.installed(settings)] == ["console", "slack", "telegram", "fax"]
    assert [s.name for s in sources.installed(settings)] == ["hooks", "inbox", "mailbag"]
    assert channels.chatting(settings) == ("fax",) and channels.unknown_platforms(settings) == []


async def test_a_fax_request_gets_a_card_whose_approve_sends_the_email(deputy: tuple[Runtime, int], smtp: Smtp) -> None:
    runtime, port = deputy
    await fax(port, {"id": "1", "from": OPERATOR, "text": "email jane@example.com a follow-up on invoice 42"})

    async def card() -> dict[str, Any] | None:
        return next((page for page in await pages(runtime) if page["buttons"]), None)

    shown = await eventually(card, 30, "a card with buttons on the fax")
    approve = dict((label, data) for label, data in shown["buttons"])["Approve"]
    assert approve.startswith("approve:p")
    await fax(port, {"id": "2", "from": OPERATOR, "press": approve})
    await eventually(lambda: smtp.messages, 30, "the approved email")
    assert len(smtp.messages) == 1 and "jane@example.com" in str(smtp.messages[0])
    await eventually(lambda: runtime.store.ids("task", "done"), 30, "the task done")


async def test_the_same_mailbag_item_twice_starts_one_task(deputy: tuple[Runtime, int]) -> None:
    runtime, _ = deputy
    item = json.dumps({"key": "bag-1", "body": "Please call Ann Lee back about the quote."})
    await runtime.redis.rpush(fax_plugin.MAILBAG, item, item)
    await eventually(lambda: _emptied(runtime), 20, "the mailbag emptied")
    proposals = await eventually(lambda: _proposals(runtime), 30, "the item's task drafted")
    assert len(proposals) == 1
    task = await runtime.store.get_task("t" + proposals[0].removeprefix("p"))
    assert task is not None and task.actor.platform == "hook" and task.actor.user == "mailbag"
    assert await runtime.redis.llen(fax_plugin.MAILBAG) == 0 and len(await _tasks(runtime)) == 1


async def _emptied(runtime: Runtime) -> bool:
    return await runtime.redis.llen(fax_plugin.MAILBAG) == 0


async def _proposals(runtime: Runtime) -> list[str]:
    """Read like `_tasks`: a note's proposal approved between the two reads is seen in both, so once each."""
    seen = [p for status in ("pending", "approved") for p in await runtime.store.ids("proposal", status)]
    return list(dict.fromkeys(seen))


async def _tasks(runtime: Runtime) -> set[str]:
    """Each status set is read in turn while the task may move on (a note is auto-approved): read in the order a
    task moves, a task is seen at least once, perhaps twice, so count distinct ids."""
    states = ("received", "running", "proposed", "approved", "applying", "done", "failed", "awaiting_operator")
    return {t for status in states for t in await runtime.store.ids("task", status)}
