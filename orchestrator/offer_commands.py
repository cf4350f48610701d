"""The commands a card's offers make (orchestrator/handlers/offers.py), kept beside the others in
`orchestrator.commands`, which re-exports them."""

from __future__ import annotations

from dataclasses import dataclass

from orchestrator.actors import Actor, ChatRef


@dataclass(frozen=True, kw_only=True)
class TakeOffer:
    """A press of one of a card's offers (**Mark read**, **Archive**, **Add as client**; typed: `/client add
    <id>`): its action staged as a proposal of its own and approved by the press, once."""

    proposal_id: str
    name: str
    """The offer's name: its button's (`mark_read`, `archive`, `add_client`)."""
    label: str
    actor: Actor
    chat: ChatRef
    event_id: str = ""


@dataclass(frozen=True)
class OfferDone:
    """A proposal made of an offer settled: its card (the offer's) shows what became of it."""

    proposal_id: str
