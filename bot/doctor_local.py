"""`deputy doctor`'s checks of what Deputy runs on: Redis (reachable, persistent, workers alive), each connector's
own check (SMTP), and the policies and playbooks files every process reads at start."""

from __future__ import annotations

import asyncio
from pathlib import Path

from redis.asyncio import Redis
from redis.exceptions import RedisError

from agents import playbooks
from bot.checks import Check
from config.policy_file import DEFAULT, load_policies, policy_path
from config.settings import Settings, redact_url
from connectors.registry import build_all, doctor_all, traits
from memory.deployed import published
from memory.embedded import executable, running_url
from memory.faults import probe
from memory.liveness import alive_workers
from orchestrator.errors import ConfigError


async def check_redis(settings: Settings) -> list[Check]:
    url = settings.redis_url or await asyncio.to_thread(running_url, settings.data_dir)
    if url is None:
        found = await asyncio.to_thread(Path(executable()).exists)
        detail = f"embedded, not running now ('deputy up' starts it in {settings.data_dir})"
        return [
            Check("Redis", found, detail if found else "the embedded redis-server binary is missing; run 'make run'")
        ]
    client = Redis.from_url(url, socket_connect_timeout=2, socket_timeout=2, decode_responses=True)
    try:
        await client.ping()
        fault = await probe(client)
        if fault:  # it answers, but can't take a write: say why and what to change
            return [
                Check("Redis", False, f"{redact_url(url)} answers but refuses writes: {fault}{await _sizes(client)}")
            ]
        checks = [Check("Redis", True, f"reachable at {redact_url(url)}"), await _persistence(client)]
        workers = await alive_workers(client)
        checks.append(
            Check(
                "Workers",
                workers > 0,
                f"{workers} alive" if workers else "none alive: start one with 'deputy worker' (deputy up starts one)",
            )
        )
        return checks
    except (RedisError, OSError) as err:
        return [Check("Redis", False, f"can't reach {redact_url(url)} ({err}); check REDIS_URL")]
    finally:
        await client.aclose()


async def _sizes(client: Redis) -> str:
    """What the fix needs to know: memory in use against the limit, and where the AOF is written."""
    try:
        memory = await client.info("memory")
        where = (await client.config_get("dir")).get("dir", "")
    except RedisError:
        return ""
    used, limit = int(memory.get("used_memory", 0)), int(memory.get("maxmemory", 0))
    cap = f" of maxmemory {limit / 1e6:.1f} MB" if limit else ""
    return f" (using {used / 1e6:.1f} MB{cap}; its files are in {where})"


async def _persistence(client: Redis) -> Check:
    try:
        aof = (await client.config_get("appendonly")).get("appendonly")
        fsync = (await client.config_get("appendfsync")).get("appendfsync")
    except RedisError:
        return Check("Redis persistence", True, "CONFIG GET is not allowed here; make sure AOF is on", info=True)
    if aof == "yes" and fsync in ("always", "everysec"):
        return Check("Redis persistence", True, f"AOF on, appendfsync {fsync}")
    return Check(
        "Redis persistence",
        False,
        f"appendonly={aof}, appendfsync={fsync}: set 'appendonly yes' and 'appendfsync always' so approved "
        "actions survive a crash",
    )


async def check_connectors(settings: Settings) -> list[Check]:
    """Each connector's own check (connectors/<name>.py `doctor`): SMTP answers and takes the login, … When a
    Deputy is running, first what its worker published it can do; this terminal's "not set" lines then go, as
    they say nothing about the running Deputy."""
    running, here = await running_view(settings), await doctor_all(settings)
    if not running:
        return here
    lines = [Check(f"Action {kind}", not why, why or "ready", info=bool(why)) for kind, why in sorted(running.items())]
    note = "what the running Deputy's worker can do (its settings, whatever this terminal's are):"
    return [Check("Connectors", True, note, info=True), *lines, *(c for c in here if not c.info)]


async def running_view(settings: Settings) -> dict[str, str]:
    """What the running worker published; empty when none is up or Redis can't be reached."""
    url = settings.redis_url or await asyncio.to_thread(running_url, settings.data_dir)
    if url is None:
        return {}
    client = Redis.from_url(url, socket_connect_timeout=2, socket_timeout=2, decode_responses=True)
    try:
        return await published(client) if await alive_workers(client) else {}
    except (RedisError, OSError):
        return {}
    finally:
        await client.aclose()


async def check_files(settings: Settings) -> list[Check]:
    """What `deputy up` would stop on: a policies.yaml, a playbook or records.yaml that is not UTF-8, not YAML,
    or not valid."""
    problem = unreadable_files(settings.data_dir) or await asyncio.to_thread(invalid_files, settings)
    if problem:
        return [Check("Policies and playbooks", False, problem)]
    path, books = policy_path(settings.data_dir), len(config_files(settings.data_dir)) - 1
    policies = "the default policies" if path == DEFAULT else f"policies from {path}"
    return [Check("Policies and playbooks", True, f"{policies} and {books} playbook(s) read")]


def invalid_files(settings: Settings) -> str:
    """The loaders' own one-line reason, with the action kinds the connectors define (nothing connects);
    records.yaml is read by the records connector as it is built."""
    try:
        installed = build_all(settings, Redis())
        load_policies(policy_path(settings.data_dir), traits(installed))
        playbooks.load(playbooks.directories(settings.data_dir), frozenset(installed))
    except ConfigError as err:
        return one_line(str(err))
    return ""


def config_files(data_dir: Path) -> list[Path]:
    """policies.yaml and every playbook file, as Deputy reads them."""
    books = (sorted(d.glob("*.yaml")) for d in playbooks.directories(data_dir) if d.is_dir())
    return [policy_path(data_dir), *(path for found in books for path in found)]


def unreadable_files(data_dir: Path) -> str:
    """One line naming the first of those files that is not UTF-8 text (its loader would stop with a traceback),
    or ''."""
    for path in config_files(data_dir):
        try:
            path.read_bytes().decode("utf-8")
        except UnicodeDecodeError as err:
            return f"{path} is not UTF-8 text (byte {err.start}): save it as UTF-8"
        except OSError:
            continue  # its loader names the file and the error
    return ""


def one_line(text: str) -> str:
    """An error as one line: YAML's (a quoted line with a caret under the column) and others' joined up."""
    lines = (line.strip() for line in text.splitlines())
    return " ".join(line for line in lines if line.strip("^ "))
