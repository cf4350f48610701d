"""`deputy doctor`: one line per check, each with what to fix; exit 2 if anything must be fixed."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from bot import channels
from bot.checks import Check
from bot.doctor_local import check_connectors, check_files, check_redis
from bot.doctor_remote import check_model, check_weaviate
from config import plugins
from config.settings import Settings


async def check_channels(settings: Settings) -> list[Check]:
    """Each installed channel checks its own platform, configured or not (it says "off" itself)."""
    found = [c for channel in channels.installed(settings) for c in await _one(channel, settings)]
    unknown = channels.unknown_platforms(settings)
    if unknown:
        names = ", ".join(unknown)
        found.append(
            Check(
                "Channels",
                False,
                f"no channel named {names} is installed: check DEPUTY_OPERATORS, "
                "DEPUTY_DIGEST_CHANNEL and DEPUTY_PLUGINS",
            )
        )
    return found


async def _one(channel: channels.Channel, settings: Settings) -> list[Check]:
    return await channel.doctor(plugins.values_for(channel.values, settings))


CHECKS: tuple[Callable[[Settings], Awaitable[list[Check]]], ...] = (
    check_redis,
    check_files,
    check_connectors,
    check_model,
    check_channels,
    check_weaviate,
)


async def run_doctor(settings: Settings) -> int:
    results = [c for check in CHECKS for c in await check(settings)]
    for result in results:
        print(result.line())
    failed = [r for r in results if not r.ok and not r.info]
    print(f"{len(failed)} thing(s) to fix." if failed else "All good.")
    return 2 if failed else 0
