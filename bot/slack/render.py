"""Messages for Slack as Block Kit, within its limits (3000 characters per text, 50 blocks, 75 per button
label, 2000 per button value). Pure: Outbound, proposals and tasks in, JSON-ready dicts out. User text is
shown as `mrkdwn` with Slack's three control characters escaped, so a draft can't ping @channel."""

from __future__ import annotations

from typing import Any

from bot.cards import MARKS, ActionView, CardView, full_text, stoppable, view, with_target
from orchestrator import buttons
from orchestrator.buttons import Target
from orchestrator.model import Proposal, Task
from orchestrator.outbound import Kind, Outbound

TEXT_LIMIT = 3000
BLOCK_LIMIT = 50
FALLBACK_LIMIT = 4000  # the notification text; Slack truncates longer ones
REVISE_VIEW = "deputy_revise_feedback"
Block = dict[str, Any]


def esc(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def clip(text: str, limit: int = TEXT_LIMIT) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def message(out: Outbound) -> tuple[str, list[Block]]:
    """The notification text and the blocks of one message."""
    if out.kind is Kind.DIGEST or (out.proposals and out.proposal is None):
        return clip(out.text, FALLBACK_LIMIT), digest_blocks(out)
    card = view(out)
    if card is not None:
        return clip(f"Proposal {card.id}: {card.title}", FALLBACK_LIMIT), card_blocks(card)
    mark = MARKS[out.kind]
    text = f"{mark} {out.text}" if mark else out.text
    if stoppable(out):  # a running task's progress: its Stop button
        stop = _button(buttons.STOP.label, buttons.STOP, Target(str(out.task_id)))
        return clip(text, FALLBACK_LIMIT), [section(text), {"type": "actions", "elements": [stop]}]
    return clip(text, FALLBACK_LIMIT), [section(text)][:BLOCK_LIMIT]


def section(text: str) -> Block:
    return {"type": "section", "text": {"type": "mrkdwn", "text": clip(esc(text))}}


def context(text: str) -> Block:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": clip(text)}]}


def card_blocks(card: CardView) -> list[Block]:
    """At most CARD_LINES lines with the buttons: the head, the one action with the first lines of its draft
    (or one line per action), the footer, the outcome (or what blocks it); Full text shows the rest."""
    blocks: list[Block] = [{"type": "header", "text": {"type": "plain_text", "text": clip(card.title, 150)}}]
    if card.notes:
        blocks.append(context(esc("\n".join(card.notes))))
    text = _one(card.actions[0]) if len(card.actions) == 1 else _several(card)
    if text:  # a card that only shows an email has no action to list (and Slack refuses an empty section)
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": clip(text)}})
    blocks.append(
        context(f"risk *{esc(card.risk)}* · cost {card.cost} · proposal `{card.id}` {esc(card.version_line)}")
    )
    if card.status or card.blocked:
        blocks.append(section(card.status or f"⚠️ {card.blocked}"))
    buttons = _buttons(card)
    if buttons:
        blocks.append({"type": "actions", "block_id": f"deputy:{card.id}:{card.version}", "elements": buttons})
    return blocks[:BLOCK_LIMIT]


def _one(action: ActionView) -> str:
    lines = [f"*{esc(action.summary)}*", f"to: *{esc(action.target)}*"]
    if action.subject:
        lines.append(f"subject: {esc(action.subject)}")
    if action.preview:
        lines.append("\n".join(f"> {esc(line)}" for line in action.preview.splitlines()))
    return "\n".join(lines)


def _several(card: CardView) -> str:
    listed, more = card.listed
    lines = [f"• {with_target(a, esc, lambda t: f'*{t}*')}" for a in listed]
    return "\n".join([*lines, f"• … and {more} more"] if more else lines)


def _button(text: str, button: buttons.Button, target: Target) -> Block:
    """A Block Kit button for an entry of the table: its action id, and its target as the value (the version
    the card showed is in the block id)."""
    block: Block = {"type": "button", "text": {"type": "plain_text", "text": text}, "action_id": button.action_id}
    block["value"] = button.slack_value(target)
    if button.style:
        block["style"] = button.style
    return block


def _buttons(card: CardView) -> list[Block]:
    return [_card_button(card, button) for button in card.buttons()]


def _card_button(card: CardView, button: buttons.Button) -> Block:
    block = _button(card.label(button), button, card.target)
    confirm = _confirm(card, button)
    return {**block, "confirm": confirm} if confirm else block


def _confirm(card: CardView, button: buttons.Button) -> Block | None:
    """Approving a high-risk action, and sending again what may have arrived, ask once more."""
    if button is buttons.APPROVE and card.high_risk:
        text = clip(f"{esc(card.title)} — this can't be taken back.", 300)
        return _confirming("Approve a high-risk action?", text, "Approve")
    if button is buttons.RESEND:
        return _confirming("Send it again?", "If the first one did arrive, it arrives twice.", "Send again")
    return None


def _confirming(title: str, text: str, ok: str) -> Block:
    return {
        "title": {"type": "plain_text", "text": title},
        "text": {"type": "mrkdwn", "text": text},
        "confirm": {"type": "plain_text", "text": ok},
        "deny": {"type": "plain_text", "text": "Cancel"},
    }


def digest_blocks(out: Outbound) -> list[Block]:
    """The digest's text (or a list to choose from), each waiting proposal with its buttons, and Approve all
    low-risk."""
    mark = MARKS[out.kind]
    blocks: list[Block] = [section(f"{mark} {out.text}" if mark else out.text)]
    for proposal in out.proposals:
        blocks.append(
            {
                "type": "actions",
                "block_id": f"digest:{proposal.id}:{proposal.version}",
                "elements": [
                    _button(f"{b.label} {proposal.id}", b, Target(proposal.id))
                    for b in (buttons.APPROVE, buttons.REJECT)
                ],
            }
        )
    if out.ref:
        low = _button(buttons.APPROVE_LOW.label, buttons.APPROVE_LOW, Target(out.ref))
        blocks.append({"type": "actions", "block_id": f"digest:{out.ref}", "elements": [low]})
    return blocks[:BLOCK_LIMIT]


# ---- modals -------------------------------------------------------------------------------------------


def reject_modal(proposal: Proposal, private: str) -> Block:
    return {
        "type": "modal",
        "callback_id": "deputy_reject_reason",
        "private_metadata": private,
        "title": {"type": "plain_text", "text": "Reject proposal"},
        "submit": {"type": "plain_text", "text": "Reject"},
        "close": {"type": "plain_text", "text": "Cancel"},
        "blocks": [
            section(f"Reject {proposal.id}: {proposal.summary}"),
            {
                "type": "input",
                "block_id": "reason",
                "optional": True,
                "label": {"type": "plain_text", "text": "Reason (optional, kept in the ledger)"},
                "element": {"type": "plain_text_input", "action_id": "value", "multiline": True},
            },
        ],
    }


def revise_modal(proposal: Proposal, private: str) -> Block:
    """One field, "What should change?"; the model drafts the proposal again with it."""
    return {
        "type": "modal",
        "callback_id": REVISE_VIEW,
        "private_metadata": private,
        "title": {"type": "plain_text", "text": clip(f"Revise {proposal.id}", 24)},
        "submit": {"type": "plain_text", "text": "Revise"},
        "close": {"type": "plain_text", "text": "Cancel"},
        "blocks": [
            section(f"Revise {proposal.id} (v{proposal.version}): {proposal.summary.splitlines()[0]}"),
            {
                "type": "input",
                "block_id": "feedback",
                "label": {"type": "plain_text", "text": "What should change?"},
                "element": {
                    "type": "plain_text_input",
                    "action_id": "value",
                    "multiline": True,
                    "max_length": 500,
                    "placeholder": {"type": "plain_text", "text": "e.g. warmer, mention the late fee"},
                },
            },
        ],
    }


def edit_modal(proposal: Proposal, private: str) -> Block:
    action = proposal.actions[0]
    inputs = [
        {
            "type": "input",
            "block_id": f"field:{name}",
            "label": {"type": "plain_text", "text": name},
            "element": {
                "type": "plain_text_input",
                "action_id": "value",
                "initial_value": clip(str(value), TEXT_LIMIT),
                "multiline": name == "body",
            },
        }
        for name, value in action.fields.items()
        if isinstance(value, str)
    ]
    return {
        "type": "modal",
        "callback_id": "deputy_edit_fields",
        "private_metadata": private,
        "title": {"type": "plain_text", "text": clip(f"Edit {proposal.id}", 24)},
        "submit": {"type": "plain_text", "text": "Save"},
        "close": {"type": "plain_text", "text": "Cancel"},
        "blocks": [section(action.summary), *inputs][:BLOCK_LIMIT],
    }


def full_text_modal(proposal: Proposal) -> Block:
    text = full_text(proposal)
    chunks = [text[i : i + TEXT_LIMIT - 100] for i in range(0, len(text), TEXT_LIMIT - 100)][:BLOCK_LIMIT]
    return {
        "type": "modal",
        "title": {"type": "plain_text", "text": clip(f"Proposal {proposal.id}", 24)},
        "close": {"type": "plain_text", "text": "Close"},
        "blocks": [section(chunk) for chunk in chunks],
    }


# ---- App Home -----------------------------------------------------------------------------------------


def home(pending: list[Proposal], running: list[Task], spend: str, running_count: int | None = None) -> Block:
    blocks: list[Block] = [
        {"type": "header", "text": {"type": "plain_text", "text": "Deputy"}},
        context(f"Today's spend: {spend}"),
        {"type": "header", "text": {"type": "plain_text", "text": f"Waiting for you ({len(pending)})"}},
    ]
    for proposal in pending[:12]:
        blocks.append(section(f"*{proposal.id}* · {proposal.summary}"))
        blocks.append(
            {
                "type": "actions",
                "block_id": f"home:{proposal.id}:{proposal.version}",
                "elements": [_button(b.label, b, Target(proposal.id)) for b in (buttons.APPROVE, buttons.REJECT)],
            }
        )
    if not pending:
        blocks.append(context("Nothing waits for a decision."))
    count = len(running) if running_count is None else running_count
    blocks.append({"type": "header", "text": {"type": "plain_text", "text": f"Running ({count})"}})
    blocks += [section(f"{task.id} · {task.status.value} · {task.text}") for task in running[:10]]
    return {"type": "home", "blocks": blocks[:BLOCK_LIMIT]}
