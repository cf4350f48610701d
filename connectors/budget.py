"""`budget.raise`: lifts today's model budget after the operator approves it. Deputy asks for it itself when a
task would pass the cap (orchestrator/budget.py); no playbook and no model output can stage it, and no policy
can auto-approve it. The raise is keyed by the action's idempotency key, so a retry never adds it twice."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from redis.asyncio import Redis

from memory.spend import RedisSpend
from orchestrator.errors import BadRequest
from orchestrator.kinds import Preview, Traits
from orchestrator.ports import HandOver, no_hand_over

MAX_RAISE_USD = 1000.0


TRAITS = Traits("budget.raise", undoable=False, noun="budget raise", done="made")
"""A raise is Deputy's own question: nothing to hold back with Undo, and no one's time saved."""


@dataclass(frozen=True)
class Values:
    daily_budget_usd: float = 5.0
    """DEPUTY_DAILY_BUDGET_USD: the cap a raise is added to."""


def build(values: Values, redis: Redis) -> BudgetConnector:
    return BudgetConnector(RedisSpend(redis, values.daily_budget_usd))


class BudgetConnector:
    kind, traits = TRAITS.kind, TRAITS
    resend_safe = True

    def __init__(self, spend: RedisSpend) -> None:
        self.spend = spend

    def validate(self, fields: dict[str, Any]) -> dict[str, Any]:
        date = str(fields.get("date", ""))
        try:
            usd = round(float(fields.get("usd", 0)), 2)
        except (TypeError, ValueError):
            raise BadRequest("A budget raise needs an amount in dollars.") from None
        if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", date):
            raise BadRequest("A budget raise needs the day it applies to (YYYY-MM-DD).")
        if not 0 < usd <= MAX_RAISE_USD:
            raise BadRequest(f"A budget raise must be more than $0 and at most ${MAX_RAISE_USD:.0f}.")
        return {"date": date, "usd": usd}

    def preview(self, fields: dict[str, Any]) -> Preview:
        return Preview(summary=f"Raise the model budget for {fields['date']} by ${fields['usd']:.2f}", target="budget")

    def unavailable(self) -> str:
        return ""

    async def apply(self, fields: dict[str, Any], idempotency_key: str, handing_over: HandOver = no_hand_over) -> str:
        """Resend-safe (one raise per key), so there is no hand-over to report."""
        await self.spend.raise_cap(fields["date"], fields["usd"], idempotency_key)
        cap = await self.spend.cap(fields["date"])
        return f"Raised today's model budget by ${fields['usd']:.2f} to ${cap:.2f}"
