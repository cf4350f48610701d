"""Messages for Telegram: HTML with every piece of user text escaped, inline keyboards whose callback data
fits Telegram's 64 bytes, and nothing longer than a message may be. Pure: Outbound in, pieces out."""

from __future__ import annotations

from dataclasses import dataclass, field
from html import escape

from bot.cards import MARKS, ActionView, CardView, full_text, stoppable, view, with_target
from orchestrator import buttons
from orchestrator.buttons import Target
from orchestrator.model import Proposal
from orchestrator.outbound import Kind, Outbound

LIMIT = 4096  # characters after entity parsing, counted in UTF-16 code units
CALLBACK_BYTES = 64


@dataclass(frozen=True)
class Button:
    text: str
    data: str

    def __post_init__(self) -> None:
        if not 1 <= len(self.data.encode()) <= CALLBACK_BYTES:
            raise ValueError(f"callback data {self.data!r} is not 1–{CALLBACK_BYTES} bytes")


@dataclass(frozen=True)
class Piece:
    """One Telegram message: HTML text and an inline keyboard (rows of buttons)."""

    html: str
    keyboard: list[list[Button]] = field(default_factory=list)


def render(message: Outbound) -> list[Piece]:
    """A card is one message (drafts shortened, with a Full text button); other text is split to fit."""
    if message.kind is Kind.DIGEST or (message.proposals and message.proposal is None):
        mark = MARKS[message.kind]
        *first, last = split(f"{mark} {message.text}" if mark else message.text)
        return [*(Piece(escape(chunk)) for chunk in first), _digest(message, last)]
    card = view(message)
    if card is not None:
        html = _card_html(card)
        dropped = "<blockquote" not in html
        return [Piece(html, _keyboard(card, shortened=dropped or any(not a.whole for a in card.actions)))]
    mark = MARKS[message.kind]
    pieces = [Piece(escape(chunk)) for chunk in split(f"{mark} {message.text}" if mark else message.text)]
    if stoppable(message):  # a running task's progress: its Stop button
        stop = buttons.STOP
        pieces[-1].keyboard.append([Button(f"{stop.mark} {stop.label}", stop.telegram(Target(str(message.task_id))))])
    return pieces


def _digest(message: Outbound, text: str) -> Piece:
    """The digest's last piece carries the buttons: each waiting proposal, and Approve all low-risk."""
    rows = [[_each(b, p) for b in (buttons.APPROVE, buttons.REJECT)] for p in message.proposals]
    if message.ref:
        low = buttons.APPROVE_LOW
        rows.append([Button(f"{low.mark} {low.label}", low.telegram(Target(message.ref)))])
    return Piece(escape(text), rows)


def _each(button: buttons.Button, proposal: Proposal) -> Button:
    return Button(f"{button.mark} {proposal.id}", button.telegram(Target(proposal.id, version=proposal.version)))


def render_full(proposal: Proposal) -> list[Piece]:
    return [Piece(escape(chunk)) for chunk in split(full_text(proposal))]


def _card_html(card: CardView, *, bodies: bool = True) -> str:
    """At most CARD_LINES lines collapsed: the head, one line per action (or the one action's to and subject),
    the drafts in one expandable quote, the footer, and the outcome (or what blocks it)."""
    lines = [f"📝 <b>{_esc(card.title)}</b>", *(_esc(note) for note in card.notes)]
    lines += [] if card.notes else [""]
    lines += _one(card.actions[0]) if len(card.actions) == 1 else _several(card)
    quote = _quote(card) if bodies else ""
    if quote:
        lines.append(f"<blockquote expandable>{quote}</blockquote>")
    lines.append(f"risk {_esc(card.risk)} · cost {card.cost}")
    lines.append(f"<i>proposal {escape(card.id)} · {_esc(card.version_line)} · {_esc(card.playbook)}</i>")
    if card.status or card.blocked:
        lines.append(f"<b>{_esc(card.status)}</b>" if card.status else f"⚠️ {_esc(card.blocked)}")
    html = "\n".join(lines)
    if bodies and utf16_len(html) > LIMIT:  # many long drafts: drop them, the Full text button shows them
        return _card_html(card, bodies=False)
    return html


def _one(action: ActionView) -> list[str]:
    lines = [f"• {_esc(action.summary)}", f"  to: <b>{_esc(action.target)}</b>"]
    return [*lines, f"  subject: {_esc(action.subject)}"] if action.subject else lines


def _several(card: CardView) -> list[str]:
    listed, more = card.listed
    lines = [f"• {with_target(action, _esc, lambda t: f'<b>{t}</b>')}" for action in listed]
    return [*lines, f"• … and {more} more"] if more else lines


def _quote(card: CardView) -> str:
    """The drafts, for the expandable quote: the one body, or each action's numbered with its subject."""
    if len(card.actions) == 1:
        return escape(card.actions[0].body)
    parts = [
        "\n".join(filter(None, [f"#{n} {a.summary}", a.subject and f"subject: {a.subject}", a.body]))
        for n, a in enumerate(card.actions, 1)
        if a.body
    ]
    return escape("\n\n".join(parts))


def _esc(text: str, limit: int = 300) -> str:
    return escape(text if len(text) <= limit else text[: limit - 1] + "…")


def _keyboard(card: CardView, *, shortened: bool) -> list[list[Button]]:
    """The card's buttons Telegram has a code for, side by side where the table gives them one row; each names
    the version this card shows, so a press on an older card changes nothing."""
    full = shortened and any(a.body for a in card.actions)
    rows: list[list[Button]] = []
    last = ""
    for button in (b for b in card.buttons(truncated=full) if b.code):
        key = button.row or button.name
        pressed = Button(f"{button.mark} {card.label(button)}", button.telegram(card.target))
        if rows and key == last:
            rows[-1].append(pressed)
        else:
            rows.append([pressed])
        last = key
    return rows


def utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def split(text: str, limit: int = LIMIT) -> list[str]:
    """Chunks within `limit` as Telegram counts (UTF-16 units, after escaping is parsed away), cut at line
    breaks where possible, never inside a character."""
    chunks: list[str] = []
    rest = text
    while utf16_len(rest) > limit:
        cut = _cut(rest, limit)
        chunks.append(rest[:cut].rstrip("\n"))
        rest = rest[cut:].lstrip("\n")
    return [*chunks, rest] if rest or not chunks else chunks


def _cut(text: str, limit: int) -> int:
    units, end = 0, 0
    for end, char in enumerate(text):  # noqa: B007 - `end` is used after the loop
        units += 2 if ord(char) > 0xFFFF else 1
        if units > limit:
            break
    newline = text.rfind("\n", 0, end)
    return newline if newline > end // 2 else end
