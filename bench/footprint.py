"""The footprint of `deputy up` (P7): RSS and PSS summed over every process of its tree (from
/proc/<pid>/smaps_rollup: the web process, the worker parent, the warm job process, the embedded Redis), at
`/readyz` and after 1,000 signed `POST /hooks/<name>` (each a note task run to its end, drafted without a model)
and 50 chat requests (each drafted by the configured model: `--drafts`), with the offline model
and with a hosted model configured (`openai/fake` at the fake OpenAI-compatible server in tests/fakes, on
loopback, called by Deputy's own client: agents/openai_compat.py); the ratio hosted ÷ offline is the figure of
record (target ≤ 1.4× in PSS). `--litellm` adds the same server called through litellm (`hosted_vllm/fake`), as
every hosted model was before: the cost of importing it, measured in the same run. Also start → `/readyz` for
each. `LITELLM_LOCAL_MODEL_COST_MAP=True` always: nothing reaches the network.
Run: `python -m bench.footprint [--requests 1000] [--rate 50] [--litellm]`."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import aiohttp
from redis import Redis

from bench.common import ROOT, python, ready, start_process, stop, wait
from bot.wiring import build_runtime
from config.settings import settings_with
from connectors import signing
from memory.embedded import free_port
from orchestrator.commands import Inbound
from orchestrator.model import Actor, ChatRef

SECRET = "bench-hook-secret"
HOSTED = "openai/fake"
CHAT = ChatRef("console", "footprint")
ME = Actor("console", "footprint", "footprint")
Figures = dict[str, float]


def tree(pid: int) -> list[int]:
    """The process and all its descendants, from /proc's children lists."""
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        for task in Path(f"/proc/{current}/task").glob("*/children"):
            todo += [int(child) for child in task.read_text().split()]
    return found


def rollup(pid: int) -> tuple[int, int]:
    """(RSS, PSS) in kB."""
    values = {}
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines()[1:]:
        name, _, rest = line.partition(":")
        values[name] = int(rest.split()[0])
    return values["Rss"], values["Pss"]


def footprint(pid: int) -> Figures:
    rss = pss = 0
    for each in tree(pid):
        try:
            r, p = rollup(each)
        except (FileNotFoundError, ProcessLookupError):
            continue
        rss, pss = rss + r, pss + p
    return {"rss_mb": rss / 1024, "pss_mb": pss / 1024, "processes": float(len(tree(pid)))}


def environment(data: Path, port: int, model_port: int | None, model: str = HOSTED) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DEPUTY_", "SLACK_", "TELEGRAM_", "REDIS_"))}
    env.update(
        DEPUTY_DATA_DIR=str(data),
        DEPUTY_PORT=str(port),
        DEPUTY_HOOKS=f"perf={SECRET}",
        DEPUTY_LOG_LEVEL="ERROR",
        DEPUTY_WORKER_MAX_JOBS="100000",  # the 2,000 jobs of 1,000 hooks in one job process: its growth, not a recycle
        LITELLM_LOCAL_MODEL_COST_MAP="True",
        PYTHONPATH=str(ROOT),
    )
    if model_port is not None:
        env.update(
            DEPUTY_LLM_MODEL=model,
            DEPUTY_LLM_API_BASE=f"http://127.0.0.1:{model_port}/v1",
            OPENAI_API_KEY="sk-bench",
        )
    return env


async def post_hooks(port: int, n: int, rate: float) -> list[float]:
    """Open loop at `rate`: each a new note, so each becomes a task the worker runs to its end."""
    latencies: list[float] = []
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as http:

        async def one(i: int) -> None:
            body = f"note: call the accountant about invoice {i}".encode()
            headers = {**signing.headers(SECRET, body), "Idempotency-Key": f"fp-{i}"}
            start = time.perf_counter()
            async with http.post(f"http://127.0.0.1:{port}/hooks/perf", data=body, headers=headers) as response:
                await response.read()
                if response.status != 202:
                    raise RuntimeError(f"hook answered {response.status}")
            latencies.append(time.perf_counter() - start)

        began, tasks = time.perf_counter(), []
        for i in range(n):
            await asyncio.sleep(max(0.0, began + i / rate - time.perf_counter()))
            tasks.append(asyncio.create_task(one(i)))
        await asyncio.gather(*tasks)
    return latencies


def settled(redis: Redis, n: int) -> bool:
    busy = sum(int(redis.scard(f"deputy:idx:task:{s}")) for s in ("received", "running", "queued"))
    return busy == 0 and int(redis.llen("rq:queue:deputy")) == 0 and done(redis) >= n


def done(redis: Redis) -> int:
    return sum(int(redis.scard(f"deputy:idx:task:{s}")) for s in ("done", "applied", "proposed", "failed"))


async def submit_drafts(redis_port: int, data: Path, n: int) -> None:
    """`n` requests as a chat message makes them (console inbound → coordinator → RQ), each a new one, so each is
    drafted by the configured model in the job process: a hook's note is drafted without one."""
    values = {"REDIS_URL": f"redis://127.0.0.1:{redis_port}", "DEPUTY_DATA_DIR": str(data)}
    runtime = build_runtime(settings_with(values))
    try:
        for i in range(n):
            text = f"plan the newsletter launch for client number {i}, with a checklist"
            await runtime.coordinator.receive(Inbound(actor=ME, chat=CHAT, text=text, event_id=f"fp-draft-{i}"))
    finally:
        await runtime.close()


def one_mode(label: str, args: argparse.Namespace, model_port: int | None, model: str = HOSTED) -> dict[str, Any]:
    n, rate, drafts = args.requests, args.rate, args.drafts
    data, port = Path(tempfile.mkdtemp(prefix="deputy-footprint-")), free_port()
    began = time.monotonic()
    up = start_process([python(), "-m", "bot.cli", "up"], environment(data, port, model_port, model))
    try:
        wait(lambda: ready(port), 90, poll=0.05)
        to_ready = time.monotonic() - began
        redis = Redis(host="127.0.0.1", port=embedded_port(data))
        wait(lambda: redis.scard("rq:workers"), 90, poll=0.05)  # the job process took its first dequeue
        time.sleep(2)  # the first sweep and beats: what an idle `up` holds
        at_ready = footprint(up.pid)
        latencies = asyncio.run(post_hooks(port, n, rate))
        wait(lambda: settled(redis, n), 300, poll=0.5)
        asyncio.run(submit_drafts(embedded_port(data), data, drafts))
        wait(lambda: settled(redis, n + drafts), 300, poll=0.5)
        after = footprint(up.pid)
        tasks = done(redis)
    finally:
        stop([up])
        shutil.rmtree(data, ignore_errors=True)
    load = os.getloadavg()[0]
    print(
        f"{label:<8} ready {to_ready:5.2f} s | at ready RSS {at_ready['rss_mb']:6.1f} MB PSS {at_ready['pss_mb']:6.1f}"
        f" MB ({at_ready['processes']:.0f} processes) | after {n} hooks + {drafts} drafts"
        f" RSS {after['rss_mb']:6.1f} PSS "
        f"{after['pss_mb']:6.1f} MB ({tasks} tasks settled; ack p99 {sorted(latencies)[int(0.99 * (n - 1))] * 1000:.1f}"
        f" ms) | L {load:.2f}"
    )
    return {"ready_s": to_ready, "at_ready": at_ready, "after": after}


def model_calls(port: int) -> int:
    """What the fake model server saw: the hosted figures are those of a tree that called the model."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stats", timeout=5) as response:
        return int(json.loads(response.read())["requests"])


def embedded_port(data: Path) -> int:
    conf = next(data.rglob("redis.conf"))
    return int(next(line.split()[1] for line in conf.read_text().splitlines() if line.startswith("port ")))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--rate", type=float, default=50)
    parser.add_argument("--drafts", type=int, default=50, help="chat requests drafted by the model, after the hooks")
    parser.add_argument("--litellm", action="store_true", help="also the same server called through litellm")
    args = parser.parse_args()
    model_port = free_port()
    fake = start_process([python(), "-m", "tests.fakes.openai_api", str(model_port)], os.environ.copy())
    try:
        print(f"deputy up: RSS and PSS over its process tree; {args.requests} hooks at {args.rate:.0f}/s")
        offline = one_mode("offline", args, None)
        hosted = one_mode("hosted", args, model_port)
        print(f"the model server answered {model_calls(model_port)} chat completions in the hosted run")
        through = one_mode("litellm", args, model_port, "hosted_vllm/fake") if args.litellm else {}
        print(f"the model server answered {model_calls(model_port)} chat completions in all")
    finally:
        stop([fake])
    for when in ("at_ready", "after"):
        ratio = hosted[when]["pss_mb"] / offline[when]["pss_mb"]
        print(f"hosted ÷ offline PSS {when.replace('_', ' ')}: {ratio:.2f} (target <= 1.4)")
        if through:
            litellm_ratio = through[when]["pss_mb"] / offline[when]["pss_mb"]
            print(f"  through litellm ÷ offline PSS {when.replace('_', ' ')}: {litellm_ratio:.2f}")
    print(f"hosted start -> /readyz {hosted['ready_s']:.2f} s (target <= 2.5 s)")


if __name__ == "__main__":
    main()
