"""Standing grants and the tool list: **Always allow** on a tool's card, `/tools`, `/grants` and `/grants revoke
<id>`. The core names no kind: a connector that offers grants (the MCP one) has `grant`, `revoke`,
`grants_text` and `tools_text`, and an action it can grant says what in its `grant` (from its preview)."""

from __future__ import annotations

from typing import Any

from orchestrator import commands as cmd
from orchestrator import policies
from orchestrator.core import Core, Outcome
from orchestrator.errors import BadRequest
from orchestrator.handlers import decisions
from orchestrator.model import Verdict
from orchestrator.outbound import Kind


async def always_allow(c: cmd.AlwaysAllow, core: Core) -> Outcome:
    """Approve the card as an operator would, then grant each of its tools (only after the approval holds)."""
    policies.require_operator(c.actor, core.config.operators, "always allow tools")
    proposal = await core.proposal(c.proposal_id)
    givers: list[Any] = [_giver(core, a.kind) if a.grant else None for a in proposal.actions]
    if not proposal.actions or not all(givers):
        raise BadRequest(f"Always allow is for tool calls only: approve {proposal.id} instead.")
    approved = await decisions.decide(_approval(c, proposal.id), core)
    said = []
    for action, give in zip(proposal.actions, givers, strict=True):
        ids = {"task_id": proposal.task_id, "proposal_id": proposal.id}
        said.append(await give(action.fields, grant_id=await core.ids.new_id("g"), by=c.actor.label, **ids))
    return Outcome(" ".join([str(approved.value), *said]), then=approved.then)


def _approval(c: cmd.AlwaysAllow, proposal_id: str) -> cmd.DecideProposal:
    """The press as an Approve of the version the card showed, its reason saying how it was given."""
    return cmd.DecideProposal(
        proposal_id=proposal_id,
        actor=c.actor,
        verdict=Verdict.APPROVE,
        chat=c.chat,
        reason="always allowed",
        event_id=c.event_id,
        version=c.version,
    )


async def word(c: cmd.ToolWord, core: Core) -> None:
    policies.require_operator(c.actor, core.config.operators, "see or change the tools")
    desks: list[Any] = [d for d in core.connectors.values() if _offers(d)]
    verb, _, rest = c.text.strip().partition(" ")
    if c.word == "tools":
        texts = [await d.tools_text() for d in desks]
    elif verb.lower() == "revoke" and rest.strip():
        texts = [await desks[0].revoke(rest.strip(), c.actor.label)] if desks else []
    elif verb:
        raise BadRequest("Type /grants to list them, or /grants revoke <id>.")
    else:
        texts = [await d.grants_text() for d in desks]
    text = "\n".join(texts) or "No tools: no connector here offers any."
    await core.say(c.chat, Kind.NOTICE, text, reply_to=c.event_id, final=True)


def _giver(core: Core, kind: str) -> Any:
    """The connector's `grant`, if its kind has standing grants."""
    return getattr(core.connectors.get(kind), "grant", None)


def _offers(connector: Any) -> bool:
    return callable(getattr(connector, "tools_text", None))
