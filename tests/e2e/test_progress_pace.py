"""A model that streams slowly, behind a real worker, seen on Slack and Telegram through their fake APIs: the task's
progress message shows the step, the time so far and the body as the model writes it, edited in place no faster
than the platforms allow (Slack's `chat.update` about once a second per message, Telegram about one message or edit
a second per chat), and /cancel stops it with nothing staged. The model's pace is the fake's (`ttft_s`,
`tokens_per_s`): a few seconds here, as a 30-second model would look in its first seconds."""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import AsyncIterator, Sequence
from typing import Protocol

import pytest

from bot.wiring import Runtime
from tests.agents.conftest import llm_env
from tests.conftest import Workers, eventually
from tests.e2e.test_slack import running
from tests.e2e.test_telegram import _deputy
from tests.fakes import slack_api as slack
from tests.fakes.openai_api import FakeOpenAI
from tests.fakes.slack_api import FakeSlack
from tests.fakes.telegram_api import CHAT, OPERATOR_ID, TOKEN, FakeBotApi, start

ASK = "email jane@acme.com a follow-up on invoice 42"
SHOWN = re.compile(r"Drafting with gpt-4o-mini · (\d+) s · “…([^”]*)”")
STOPPED = "Nothing was staged."
RATE_S = 1.0
"""The platforms' pace: Slack's `chat.update` about once a second per message, Telegram about one a second per chat."""
LEAST_SPAN_S = 1.0
"""Three posts in a row take two slots (2 s): a loaded machine may hold one back to its neighbour, not halve both."""


class Timed(Protocol):
    at: float


LONG_BODY = "Hello from the slow model. " + " ".join(f"Line {n} of a long follow-up on invoice 42." for n in range(30))
DRAFT = {
    "summary": "Follow-up on invoice 42",
    "confidence": 0.9,
    "fields": {"to": "jane@acme.com", "subject": "Invoice 42", "body": LONG_BODY},
}


def slowly(server: FakeOpenAI) -> None:
    """A model on a CPU writing a long email: its first word after half a second, then 8 a second (about 40 s in
    all; the tests stop it after a few)."""
    server.ttft_s, server.tokens_per_s = 0.5, 8.0
    server.script.append({"content": json.dumps(DRAFT)})


def growing(texts: Sequence[str]) -> list[tuple[int, str]]:
    """The (seconds, text being written) each edit showed — the summary, the address, the subject, then the end of
    the body so far — once the body was shown at two different lines."""
    shown = [(int(m[1]), m[2]) for t in texts if (m := SHOWN.search(t))]
    return shown if len({_last_line(text) for _, text in shown} - {-1}) >= 2 else []


def _last_line(text: str) -> int:
    numbers = re.findall(r"Line (\d+)", text)
    return int(numbers[-1]) if numbers else -1


def gaps(calls: Sequence[Timed]) -> list[float]:
    return [b.at - a.at for a, b in itertools.pairwise(calls)]


def paced(calls: Sequence[Timed]) -> bool:
    """No faster than the platform's pace over the whole run, and never a burst: no three within LEAST_SPAN_S.
    Each post waits for its reserved slot, then goes; a busy machine can hold one back until just before the next
    one's slot (two close together, as seen at a load of 6), but not two of them."""
    if len(calls) < 2:
        return True
    bursts = [c.at - a.at for a, _, c in zip(calls, calls[1:], calls[2:], strict=False)]
    return len(calls) - 1 <= (calls[-1].at - calls[0].at) / RATE_S + 1 and min(bursts, default=RATE_S) >= LEAST_SPAN_S


async def abandoned(runtime: Runtime, task_id: str) -> bool:
    """The worker gave the model call up (and so its progress reporter with it)."""
    calls = [e for _, e in await runtime.ledger.read() if e.type == "ModelCalled" and e.task_id == task_id]
    return any("stopped" in e.detail.get("error", "") for e in calls)


def check_growing(shown: list[tuple[int, str]]) -> None:
    lines = [n for _, text in shown if (n := _last_line(text)) >= 0]
    assert lines == sorted(lines) and lines[-1] > lines[0], shown  # the body grows
    assert [s for s, _ in shown] == sorted(s for s, _ in shown), shown  # the clock moves on


@pytest.fixture
async def bot_api() -> AsyncIterator[FakeBotApi]:
    fake = FakeBotApi()
    runner = await start(fake)
    yield fake
    await runner.cleanup()


async def test_slack_shows_the_draft_growing_within_the_pace_and_cancel_stops_it(
    slack_api: FakeSlack, env: dict[str, str], workers: Workers, openai_server: tuple[FakeOpenAI, str]
) -> None:
    server, url = openai_server
    slowly(server)
    platform = {
        "SLACK_BOT_TOKEN": slack.BOT_TOKEN,
        "SLACK_SIGNING_SECRET": slack.SIGNING_SECRET,
        "DEPUTY_SLACK_API_URL": slack_api.base,
        "DEPUTY_OPERATORS": f"slack:{slack.OPERATOR}",
    }
    env = {**env, **platform, **llm_env(url)}
    workers.start(**env)
    async with running(slack_api, env) as deputy:
        assert await deputy.send(slack.event(text=ASK)) == 200

        def edits() -> list[str]:
            return [str(c.params.get("text", "")) for c in slack_api.sent("chat.update")]

        check_growing(await eventually(lambda: growing(edits()), 60, "the draft growing on Slack"))
        [task_id] = await deputy.runtime.store.ids("task", "running")
        assert await deputy.send(slack.event(text=f"/cancel {task_id}")) == 200
        await eventually(lambda: any(STOPPED in t for t in edits()), 30, "the stop")
        await eventually(lambda: abandoned(deputy.runtime, task_id), 30, "the worker to give the draft up")
        assert STOPPED in edits()[-1]  # no progress edit in flight came after it
        assert await deputy.runtime.store.ids("proposal", "pending") == []
        updates: dict[str, list[slack.Call]] = {}
        for call in slack_api.sent("chat.update"):
            updates.setdefault(str(call.params["ts"]), []).append(call)
        assert updates and all(paced(calls) for calls in updates.values()), {
            ts: gaps(calls) for ts, calls in updates.items()
        }


async def test_telegram_shows_the_draft_growing_within_the_pace_and_cancel_stops_it(
    bot_api: FakeBotApi, env: dict[str, str], workers: Workers, openai_server: tuple[FakeOpenAI, str]
) -> None:
    server, url = openai_server
    slowly(server)
    api = bot_api
    platform = {
        "TELEGRAM_BOT_TOKEN": TOKEN,
        "DEPUTY_TELEGRAM_API_URL": api.base,
        "DEPUTY_OPERATORS": f"telegram:{OPERATOR_ID}",
    }
    env = {**env, **platform, **llm_env(url)}
    workers.start(**env)
    async with _deputy(api, env) as deputy:
        await api.push(api.text_update(ASK))

        def edits() -> list[str]:
            return [str(c.params.get("text", "")) for c in api.sent("editMessageText")]

        check_growing(await eventually(lambda: growing(edits()), 60, "the draft growing on Telegram"))
        [task_id] = await deputy.runtime.store.ids("task", "running")
        await api.push(api.text_update(f"/cancel {task_id}"))
        await eventually(lambda: any(STOPPED in t for t in edits()), 30, "the stop")
        await eventually(lambda: abandoned(deputy.runtime, task_id), 30, "the worker to give the draft up")
        assert STOPPED in edits()[-1]  # no progress edit in flight came after it
        assert await deputy.runtime.store.ids("proposal", "pending") == []
        posted = [c for c in api.calls if c.method in ("sendMessage", "editMessageText")]
        to_chat = [c for c in posted if str(c.params.get("chat_id")) == str(CHAT)]
        assert len(to_chat) >= 4 and paced(to_chat), gaps(to_chat)  # about one a second, per chat
