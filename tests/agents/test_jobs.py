"""Job entry points on real Redis: a job's final failure fails the task and tells the operator."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from agents import jobs
from agents.runtime import install
from bot.wiring import Runtime, build_runtime
from config.settings import load_settings
from memory.streams import range_after
from orchestrator.commands import Inbound
from orchestrator.model import Actor, ChatRef

CONSOLE = ChatRef("console", "local")


@dataclass
class JobStub:
    """The attributes of an RQ job the callback reads."""

    id: str
    func_name: str
    args: list[str] = field(default_factory=list)
    retries_left: int | None = 0


@pytest.fixture
def use_test_env(env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("REDIS_URL", "DEPUTY_SMTP_URL", "DEPUTY_EMAIL_FROM", "DEPUTY_DATA_DIR"):
        monkeypatch.setenv(name, env[name])
    settings = load_settings()
    install(lambda: build_runtime(settings))


async def submit(runtime: Runtime) -> str:
    actor = Actor("console", "op", "you")
    await runtime.coordinator.receive(Inbound(actor=actor, chat=CONSOLE, text="plan the launch", event_id="e1"))
    [task_id] = await runtime.store.ids("task", "received")
    return task_id


@pytest.mark.usefixtures("use_test_env")
async def test_last_failed_attempt_fails_the_task_and_tells_the_operator(runtime: Runtime) -> None:
    task_id = await submit(runtime)
    await jobs._fail("agents.jobs.run_task", task_id, jobs.in_words(RuntimeError("model unreachable")))
    task = await runtime.store.get_task(task_id)
    assert task and task.status.value == "failed" and task.error == "model unreachable"
    _, last = (await range_after(runtime.redis, "deputy:console:local", "0", count=100))[-1]
    said = "Nothing was done; send the request again when you want it tried."
    assert last["text"] == f"✗ Task {task_id} failed: model unreachable. {said}" and last["final"] == "1"


@pytest.mark.usefixtures("use_test_env")
def test_attempt_with_retries_left_changes_nothing(env: dict[str, str]) -> None:
    jobs.on_failure(
        JobStub("run-tmissing", "agents.jobs.run_task", ["tmissing"], retries_left=2),
        None,
        RuntimeError,
        RuntimeError("boom"),
        None,
    )  # would raise NotFound if it touched the (missing) task


def test_every_job_keeps_the_dotted_name_queued_jobs_carry() -> None:
    """Jobs already in Redis name their function: the table must not rename one."""
    assert set(jobs.JOBS) == {"agents.jobs.run_task", "agents.jobs.apply_proposal", "agents.jobs.revise_proposal"}
    assert jobs.RUN.job_id("t1") == "run-t1" and jobs.REVISE.job_id("p1", 3) == "revise-p1-3"
