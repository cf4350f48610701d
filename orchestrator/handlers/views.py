"""The ShowView handler: /status, /budget, /stats, /help and the records' /who, /clients, /projects said in
the chat they were asked in. The texts are
the read side's (`orchestrator/views.py`)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from orchestrator import commands as cmd
from orchestrator import inbox_views, policies
from orchestrator.core import Core
from orchestrator.errors import BadRequest
from orchestrator.outbound import Kind
from orchestrator.record_views import clients_text, projects_text, who_text
from orchestrator.views import budget_text, pending, stats_text, status_text
from orchestrator.words import help_text

RECORDS: dict[str, Callable[[Core, str], Awaitable[str]]] = {
    "who": who_text,
    "clients": clients_text,
    "projects": lambda core, _: projects_text(core),
}


async def show(c: cmd.ShowView, core: Core) -> None:
    texts = {"status": status_text, "budget": budget_text}
    if c.view == "help":
        text = help_text()
        if not policies.is_operator(c.actor, core.config.operators):
            text += "\n\n" + policies.not_operator_text(c.actor)
    elif c.view == "inbox":
        policies.require_operator(c.actor, core.config.operators, "read the inbox")
        text = inbox_views.inbox_text(await pending(core))
    elif c.view == "stats":
        text = await stats_text(core, c.arg)
    elif c.view in RECORDS:
        policies.require_operator(c.actor, core.config.operators, "read client records")
        text = await RECORDS[c.view](core, c.arg)
    elif c.view in texts:
        text = await texts[c.view](core)
    else:
        raise BadRequest(f"There is no /{c.view} view.")
    await core.say(c.chat, Kind.NOTICE, text, reply_to=c.event_id, final=True)
