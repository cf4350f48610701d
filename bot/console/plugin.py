"""The console as a channel plug-in: always there, no routes (`deputy chat` and `deputy up` at a terminal drive
it), its outbox a Redis Stream the console reads."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from aiohttp import web
from redis.asyncio import Redis

from bot.channels import Mount
from bot.checks import Check
from bot.console.outbound import ConsoleOutbox
from orchestrator.ports import ChatOutbox


@dataclass(frozen=True)
class Values:
    pass


class Console:
    platform, paths, values, chat = "console", (), Values, False

    def configured(self, values: Any) -> bool:
        return True

    def outbox(self, values: Any, redis: Redis) -> ChatOutbox:
        return ConsoleOutbox(redis)

    def preload(self, values: Any) -> None:
        pass

    def mount(self, app: web.Application, values: Any, at: Mount) -> None:
        pass

    async def doctor(self, values: Any) -> list[Check]:
        return [Check("Console", True, "always available ('deputy chat')")]


CHANNEL = Console()
