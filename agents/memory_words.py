"""The memory verbs — /remember, /recall, /forget — answered without a model, from the records as they are."""

from __future__ import annotations

from datetime import datetime

from memory.records import RECORD_ID, Recalled, RedisMemory, Source
from orchestrator.actors import MemoryWord
from orchestrator.model import MemoryAsk, Reply, Task


async def memory_verb(memory: RedisMemory, ask: MemoryAsk, task: Task) -> Reply:
    arg = ask.arg
    if ask.word is MemoryWord.REMEMBER:
        return await remember(memory, arg, task)
    if ask.word is MemoryWord.RECALL:
        found = await memory.recall(arg, limit=5) if arg else []
        if not found:
            return Reply(f"Nothing in memory matches “{arg}”. /remember <fact> adds one.")
        return Reply("\n".join(f"{r.record.id} · {r.record.text}  — {_saved(r)}" for r in found))
    return await forget(memory, arg.strip())


async def forget(memory: RedisMemory, target: str) -> Reply:
    """A fact goes for good; asked again, it says so rather than that there is nothing (the id was right)."""
    if not target:
        return Reply("Forget what? Type /forget <id> (/recall <words> shows ids), or /forget client <name>.", ok=False)
    removed = await memory.forget(target)
    if removed is not None:
        return Reply(f"Forgot {removed.id}: “{removed.text}”. It won't be recalled or used again.")
    record = await memory.get(target)
    if RECORD_ID.match(target) and record is not None:
        return Reply(f"{target} is a client or project record: /forget client <name> removes it for good.", ok=False)
    if record is not None:
        return Reply(f"{target} was already forgotten{_when(record.forgotten_at)}; nothing changed.")
    return Reply(f"Nothing to forget with id “{target}”. /recall <words> shows ids.", ok=False)


async def remember(memory: RedisMemory, arg: str, task: Task) -> Reply:
    if not arg:
        return Reply("What should I remember? e.g. /remember ACME pays net 30", ok=False)
    source = Source(by=task.actor.label, where=f"task {task.id} in {task.chat.platform}:{task.chat.chat}")
    done = await memory.remember(arg, source)
    record = done.record
    if done.outcome == "same":
        return Reply(f"Already remembered as {record.id}: {record.text}")
    if done.outcome == "updated":
        return Reply(f"Updated {record.id} (v{record.version}): {record.text}\n(was: {done.previous})")
    return Reply(f"Remembered {record.id}: {record.text}")


def _saved(recalled: Recalled) -> str:
    record = recalled.record
    when = record.source.at[:10]
    return f"{'saved' if record.version == 1 else f'v{record.version}'} {when} by {record.source.by}"


def _when(at: str) -> str:
    if not at:
        return ""
    when = datetime.fromisoformat(at)
    return f" on {when.day} {when:%b} at {when:%H:%M} UTC"
