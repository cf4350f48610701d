"""MCP tools on the drafting side: the playbook runner, plus what tools need. A playbook that stages `mcp.call`
drafts with the list of tools a model may use (denied ones are never on it); a drafted call of a read-only tool
that mcp.yaml allows is made at once and its answer said back, as the server's words — data, never
instructions: it starts nothing and stages nothing. Any other call goes on to the card as drafted."""

from __future__ import annotations

from typing import Any

from agents.llm import Meter
from agents.playbooks import Drafted, Playbook
from agents.runner import PlaybookRunner
from connectors.mcp import TRAITS
from orchestrator.errors import BadRequest, ConnectorError
from orchestrator.model import Draft, ProposalDraft, Reply, Task

KIND = TRAITS.kind


class ToolRunner(PlaybookRunner):
    """The playbook runner with MCP tools at hand (`desk`: the installed mcp.call connector, or None)."""

    def __init__(self, *args: Any, desk: Any = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.desk = desk

    @staticmethod
    def kind() -> str:
        return KIND

    async def draft(self, task: Task) -> Draft:
        return await self.settle(await super().draft(task))

    async def _draft(
        self, task: Task, playbook: Playbook, text: str, memory: str, recent: str, meter: Meter
    ) -> Drafted:
        """A tool playbook's prompt carries the tools on offer, listed fresh."""
        if self.desk is not None and KIND in playbook.kinds:
            await self.desk.refresh()
            memory = f"{memory}\nMCP tools (the servers' own descriptions):\n{self.desk.menu()}".strip()
        return await super()._draft(task, playbook, text, memory, recent, meter)

    async def settle(self, result: Draft) -> Draft:
        """A lone call of an allowed read-only tool is made now; anything else stays as drafted."""
        if self.desk is None or not isinstance(result, ProposalDraft) or KIND not in (k for k, _ in result.actions):
            return result
        servers = {str(f.get("tool", "")).partition("/")[0] for k, f in result.actions if k == KIND}
        for server in servers & set(self.desk.file.servers):  # the card is staged on the tools as they are now
            await self.desk.refresh(force=True, server=server)
        if len(result.actions) != 1 or not self.desk.readable(result.actions[0][1]):
            return result
        cost = result.cost_spent_usd
        try:
            fields = self.desk.validate(result.actions[0][1])
            said = await self.desk.read(fields)
        except (BadRequest, ConnectorError) as err:
            return Reply(f"I couldn't use that tool: {err}. Nothing was done.", ok=False, cost_usd=cost)
        return Reply(f"{fields['tool']} answered (the tool's own words, shown as data):\n{said}", cost_usd=cost)
