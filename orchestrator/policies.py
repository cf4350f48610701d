"""Policies: pure functions that decide who may do what. No I/O, so they are trivially testable."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

from orchestrator.errors import BadRequest, PolicyDenied
from orchestrator.model import Actor, Proposal, StagedAction

MAX_REQUEST_CHARS = 8000
CONSOLE = "console"
HOOK = "hook"
BUDGET_KIND = "budget.raise"
BUDGET_PLAYBOOK = "budget"
"""Deputy's own question when a task would pass today's model budget (orchestrator/handlers/budget.py)."""
NEVER_AUTO = frozenset({BUDGET_KIND})
"""Action kinds only a person may approve, whatever the policy file says."""


_UNSAFE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]|[\ud800-\udfff]")
"""Control characters (all but tab and line breaks) and lone surrogates: never stored, never shown."""


def clean_text(text: str) -> str:
    """Text as Deputy stores it: lone surrogates become U+FFFD (they can't be encoded), control characters go."""
    return _UNSAFE.sub(lambda m: "\ufffd" if m[0] >= "\ud800" else "", text)


def check_request_text(text: str) -> str:
    """The request as the agent will see it, or `BadRequest` saying what to change."""
    text = text.strip()
    if not text:
        raise BadRequest("That message is empty. Tell me what to do, e.g. 'email jane@acme.com about invoice 42'.")
    if len(text) > MAX_REQUEST_CHARS:
        raise BadRequest(
            f"That message is {len(text):,} characters; the limit is {MAX_REQUEST_CHARS:,}. "
            "Shorten it or put the long part in a file and describe it."
        )
    return text


def is_operator(actor: Actor, operators: frozenset[str]) -> bool:
    """The console user is the person at the machine, so always an operator."""
    return actor.platform == CONSOLE or actor.id in operators


def not_operator_text(actor: Actor) -> str:
    return (
        f"You are not an operator. Your id is {actor.id}; the operator can add it to DEPUTY_OPERATORS "
        f"(e.g. DEPUTY_OPERATORS={actor.id}) and restart Deputy."
    )


def require_operator(actor: Actor, operators: frozenset[str], doing: str) -> None:
    if not is_operator(actor, operators):
        raise PolicyDenied(f"You can't {doing}: {not_operator_text(actor)[0].lower()}{not_operator_text(actor)[1:]}")


def may_start_tasks(actor: Actor, operators: frozenset[str]) -> None:
    """Operators, and signed inbound webhooks (their tasks still need an operator's approval to act)."""
    if actor.platform != HOOK:
        require_operator(actor, operators, "start tasks")


@dataclass(frozen=True)
class AutoRule:
    """Approve an action of `kind` without asking, if every condition holds."""

    name: str
    kind: str
    recipient_in_memory: bool = False
    max_cost_usd: float | None = None

    def needs_memory(self) -> bool:
        return self.recipient_in_memory


@dataclass(frozen=True)
class ReminderRule:
    """When a pending proposal of a kind is brought back to the operator, and what its expiry does:
    `deny` expires it (a late click is refused), `remind` reminds again, `keep` leaves it pending."""

    remind_after_hours: float | None = 4.0
    expire_after_hours: float | None = None
    at_expiry: str = "keep"


EXPIRY_ACTIONS = ("deny", "keep", "remind")


@dataclass(frozen=True)
class InboxRule:
    """A received email that meets every condition a rule sets becomes a card at once (policies.yaml's
    `inbox: card_now:`); one no rule matches waits for the digest. A rule with no condition matches all mail."""

    name: str
    triage: tuple[str, ...] = ()
    """Any of these triage kinds (`needs reply`, `FYI`, …); empty: any."""
    from_client: bool | None = None
    """The sender's address or domain is (True) or is not (False) a client/project record; None: either."""
    sender: str = ""
    """An address, or `@domain`; '': anyone."""

    def matches(self, triage: str, *, client: bool, sender: str) -> bool:
        if self.triage and triage not in self.triage:
            return False
        if self.from_client is not None and self.from_client != client:
            return False
        want, sender = self.sender.lower(), sender.lower()
        return not want or (sender.endswith(want) if want.startswith("@") else sender == want)


CARD_NOW = (InboxRule("needs-reply", triage=("needs reply",)),)
"""Without an `inbox:` section: only mail that needs a reply becomes a card."""


def card_rule(rules: Sequence[InboxRule], triage: str, *, client: bool, sender: str) -> str | None:
    """The first rule that makes this email a card at once, by name; None: it waits for the digest."""
    return next((r.name for r in rules if r.matches(triage, client=client, sender=sender)), None)


@dataclass(frozen=True)
class Policies:
    auto_approve: tuple[AutoRule, ...] = ()
    undoable: frozenset[str] = field(default_factory=frozenset)
    reminders: tuple[tuple[str, ReminderRule], ...] = ()
    default_reminder: ReminderRule = field(default_factory=ReminderRule)
    minutes_saved: tuple[tuple[str, float], ...] = ()
    """A person's minutes an applied action of a kind saves (half when it was changed first): its connector's
    (`Traits.minutes_saved`) unless policies.yaml's `minutes_saved:` says otherwise; a kind not listed saves none."""
    card_now: tuple[InboxRule, ...] = CARD_NOW
    """Which received emails become a card at once (the rest wait for the digest's Inbox section)."""

    @property
    def minutes(self) -> dict[str, float]:
        return dict(self.minutes_saved)

    @property
    def needs_memory(self) -> bool:
        return any(rule.needs_memory() for rule in self.auto_approve)


def auto_approval_rule(proposal: Proposal, rules: Sequence[AutoRule], known: frozenset[str]) -> str | None:
    """The rules that approve every action without asking (comma-joined), or None: auto-approval needs a
    matching rule for each action, and a blocked proposal is never auto-approved."""
    if proposal.blocked_reason or not proposal.actions or any(a.kind in NEVER_AUTO for a in proposal.actions):
        return None
    names = [_matching(action, proposal, rules, known) for action in proposal.actions]
    if any(n is None for n in names):
        return None
    return ", ".join(sorted({n for n in names if n}))


def _matching(action: StagedAction, proposal: Proposal, rules: Sequence[AutoRule], known: frozenset[str]) -> str | None:
    for rule in rules:
        if rule.kind != action.kind:
            continue
        if rule.recipient_in_memory and action.target.lower() not in known:
            continue
        if rule.max_cost_usd is not None and proposal.cost_estimate_usd + proposal.cost_spent_usd > rule.max_cost_usd:
            continue
        return rule.name
    return None


def is_undoable(proposal: Proposal, policies: Policies) -> bool:
    return any(action.kind in policies.undoable for action in proposal.actions)


def reminder_rule(proposal: Proposal, policies: Policies) -> ReminderRule:
    """The strictest rule over the proposal's actions: the earliest reminder, and the earliest expiry that
    does something (deny before remind when they tie)."""
    by_kind = dict(policies.reminders)
    rules = [by_kind.get(a.kind, policies.default_reminder) for a in proposal.actions] or [policies.default_reminder]
    reminds = [r.remind_after_hours for r in rules if r.remind_after_hours is not None]
    acting = [r for r in rules if r.expire_after_hours is not None and r.at_expiry != "keep"]
    first = min(acting, key=lambda r: (r.expire_after_hours, r.at_expiry != "deny"), default=None)
    return ReminderRule(
        remind_after_hours=min(reminds) if reminds else None,
        expire_after_hours=first.expire_after_hours if first else None,
        at_expiry=first.at_expiry if first else "keep",
    )


def local_date(at: datetime, timezone: str) -> str:
    """The operator's calendar day (YYYY-MM-DD): budgets, spend and digests are counted per local day."""
    return at.astimezone(ZoneInfo(timezone)).date().isoformat()
