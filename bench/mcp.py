"""An allowed MCP call, approve → applied, against a bare SDK client call to the same server in the same run.
A real redis-server, a real `deputy worker`, the tests' MCP server (tests/connectors/mcp_books.py, the SDK's
MCPServer) over streamable HTTP on loopback. Deputy's path: `/approve` → decision → RQ job → the connector lists
the tool again (fingerprint), hands over, calls it → outcome committed; timed until the task is done. Baseline:
`mcp.Client.call_tool` on an open session (Deputy also keeps its session open). Two tools: `slow_note` with 0.1 s
of work (a tool that does something, like an API call behind it) and the same with 0 s (the bare overhead).
Run: `python -m bench.mcp [--n 20]`."""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

from bench.common import ROOT, pct, start_process, start_redis, stop, wait
from bot.wiring import build_runtime
from config.settings import settings_with
from memory.embedded import free_port
from orchestrator.commands import Inbound
from orchestrator.model import Actor, ChatRef

BOOKS = ROOT / "tests" / "connectors" / "mcp_books.py"
CONSOLE = ChatRef("console", "local")
ME = Actor("console", "op", "you")


async def bare(url: str, seconds: float, n: int) -> list[float]:
    from mcp import Client

    times = []
    async with Client(url, cache=None) as client:
        await client.list_tools()
        for i in range(n):
            start = time.perf_counter()
            await client.call_tool("slow_note", {"text": f"bare {i}", "seconds": seconds})
            times.append(time.perf_counter() - start)
    return times


async def deputy(redis_url: str, data: Path, seconds: float, n: int, tag: str) -> list[float]:
    runtime = build_runtime(settings_with({"REDIS_URL": redis_url, "DEPUTY_DATA_DIR": str(data)}), redis_url)
    times = []
    try:
        for i in range(n):
            text = f"use books/slow_note with text={tag}{i} seconds={seconds}"
            await runtime.coordinator.receive(Inbound(actor=ME, chat=CONSOLE, text=text, event_id=f"{tag}-ask-{i}"))
            pid = await _pending(runtime)
            start = time.perf_counter()
            await runtime.coordinator.receive(
                Inbound(actor=ME, chat=CONSOLE, text=f"/approve {pid}", event_id=f"{tag}-ok-{i}")
            )
            await _done(runtime, pid)
            times.append(time.perf_counter() - start)
    finally:
        await runtime.close()
    return times


async def phases(redis_url: str, data: Path) -> str:
    """Where the time goes, from the ledger's own stamps: decision → apply started → applied."""
    runtime = build_runtime(settings_with({"REDIS_URL": redis_url, "DEPUTY_DATA_DIR": str(data)}), redis_url)
    try:
        stamps: dict[str, dict[str, datetime]] = {}
        for _, event in await runtime.ledger.read(count=100_000):
            if event.proposal_id:
                stamps.setdefault(event.proposal_id, {}).setdefault(event.type, event.at)
    finally:
        await runtime.close()
    spans = [("ProposalApproved", "ActionApplying"), ("ActionApplying", "ActionApplied")]
    rows = [[(t[b] - t[a]).total_seconds() * 1000 for a, b in spans] for t in stamps.values() if "ActionApplied" in t]
    approved, applied = (statistics.median(r[i] for r in rows) for i in range(2))
    said = f"approved → apply started {approved:.1f} ms · apply started → applied {applied:.1f} ms"
    return f"phases (p50 of all runs): {said}"


async def _pending(runtime: object) -> str:
    store = runtime.store  # type: ignore[attr-defined]
    for _ in range(30_000):
        waiting = await store.ids("proposal", "pending")
        if waiting:
            return str(waiting[0])
        await asyncio.sleep(0.002)
    raise TimeoutError("no card")


async def _done(runtime: object, pid: str) -> None:
    store = runtime.store  # type: ignore[attr-defined]
    for _ in range(30_000):
        proposal = await store.get_proposal(pid)
        task = await store.get_task(proposal.task_id) if proposal else None
        if task is not None and task.status.value in ("done", "failed", "awaiting_operator"):
            assert task.status.value == "done", task.status.value
            return
        await asyncio.sleep(0.001)
    raise TimeoutError("not applied")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=20)
    n = parser.parse_args().n
    redis, redis_url = start_redis()
    data = Path(tempfile.mkdtemp(prefix="deputy-bench-mcp-"))
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, str(BOOKS), "http", str(port)],
        env={"BOOKS_LOG": str(data / "calls.log"), "PATH": os.environ.get("PATH", "")},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}/mcp"
    (data / "mcp.yaml").write_text(f"servers:\n  books: {{url: '{url}'}}\n")
    env = {**os.environ, "REDIS_URL": redis_url, "DEPUTY_DATA_DIR": str(data), "DEPUTY_LOG_LEVEL": "WARNING"}
    env.update({"DEPUTY_UNDO_SECONDS": "0", "PYTHONPATH": str(ROOT)})
    worker = start_process([sys.executable, "-m", "bot.cli", "worker"], env)
    try:
        time.sleep(3)
        wait(lambda: server.poll() is None, 5)
        for seconds in (0.1, 0.0):
            asyncio.run(deputy(redis_url, data, seconds, 2, f"warm{seconds}"))
            base = asyncio.run(bare(url, seconds, n))
            ours = asyncio.run(deputy(redis_url, data, seconds, n, f"run{seconds}"))
            b, d = pct(base, 50) * 1000, pct(ours, 50) * 1000
            print(
                f"tool work {seconds:.1f} s: bare SDK call p50 {b:.1f} ms · approve → applied p50 {d:.1f} ms "
                f"(p90 {pct(ours, 90) * 1000:.1f}) · ratio {d / b:.2f}× · overhead {d - b:.1f} ms"
            )
        print(asyncio.run(phases(redis_url, data)))
        print(f"load average {os.getloadavg()[0]:.2f}")
    finally:
        stop([redis, worker])
        server.kill()


if __name__ == "__main__":
    main()
