"""`deputy doctor`: one line per check, each with what to fix; exit 2 if anything must be fixed."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from bot.checks import Check
from bot.doctor_local import check_connectors, check_files, check_redis
from bot.doctor_remote import check_console, check_model, check_slack, check_telegram, check_weaviate
from config.settings import Settings

CHECKS: tuple[Callable[[Settings], Awaitable[list[Check]]], ...] = (
    check_redis,
    check_files,
    check_connectors,
    check_model,
    check_console,
    check_slack,
    check_telegram,
    check_weaviate,
)


async def run_doctor(settings: Settings) -> int:
    results = [c for check in CHECKS for c in await check(settings)]
    for result in results:
        print(result.line())
    failed = [r for r in results if not r.ok and not r.info]
    print(f"{len(failed)} thing(s) to fix." if failed else "All good.")
    return 2 if failed else 0
