"""What a proposal remembers of the agent's first draft (shadow runs compare with it) and what its staging tells
the ledger (the stats read it): the playbook, and whether the verifier doubted the draft."""

from __future__ import annotations

from dataclasses import replace

from orchestrator.model import ProposalDraft
from tests.orchestrator.conftest import Core
from tests.orchestrator.test_coordinator import EMAIL, staged


async def test_an_edit_changes_the_action_but_not_the_first_draft(core: Core) -> None:
    pid = await staged(core)
    await core.say(f"/edit {pid} to bob@acme.com")
    proposal = await core.store.get_proposal(pid)
    assert proposal and proposal.version == 2
    assert proposal.actions[0].fields["to"] == "bob@acme.com" and proposal.actions[0].target == "bob@acme.com"
    [first] = proposal.drafted
    assert first.kind == "email.send" and first.fields["to"] == "jane@acme.com" and first.target == "jane@acme.com"


async def test_staging_names_the_playbook_and_the_verifiers_doubt(core: Core) -> None:
    doubt = "Email jane\n⚠ Verifier: the invoice number is a guess"
    doubted: ProposalDraft = replace(EMAIL, summary=doubt, flagged=True)
    pid = await staged(core, doubted)
    proposal = await core.store.get_proposal(pid)
    assert proposal and proposal.flagged
    [event] = [e for e in core.store.ledger if e.type == "ProposalStaged"]
    assert event.detail["playbook"] == "email" and event.detail["flagged"] is True
    assert event.detail["actions"] == ["email.send"]


async def test_an_unflagged_draft_says_so(core: Core) -> None:
    await staged(core)
    [event] = [e for e in core.store.ledger if e.type == "ProposalStaged"]
    assert event.detail["flagged"] is False
