"""The Stop button of a running task's progress message: one row of the button table, drawn by Slack and Telegram,
read back to `/cancel <task id>` (orchestrator/handlers/stopping.py)."""

from __future__ import annotations

from bot.slack.render import message
from bot.telegram.render import render
from orchestrator import buttons
from orchestrator.outbound import Kind, Outbound


def test_a_running_tasks_progress_carries_stop_on_slack_and_telegram_and_its_last_word_does_not() -> None:
    running = Outbound(kind=Kind.PROGRESS, text="Drafting with gemma · 14 s", task_id="t1")
    _, blocks = message(running)
    [stop] = [e for b in blocks if b["type"] == "actions" for e in b["elements"]]
    assert (stop["action_id"], stop["value"]) == ("deputy_stop", "t1")
    [piece] = render(running)
    assert [b.data for row in piece.keyboard for b in row] == ["x:t1"]
    done = Outbound(kind=Kind.PROGRESS, text="Paused", task_id="t1", final=True)
    assert render(done)[0].keyboard == [] and len(message(done)[1]) == 1
    assert buttons.from_telegram("x:t1") == (buttons.STOP, buttons.Target("t1"))
    assert buttons.from_slack("deputy_stop", "t1", None) == (buttons.STOP, buttons.Target("t1"))
