"""The buttons, declared once, beside the chat words (orchestrator/words.py): each button's name, its Telegram
code and Slack action id, the argument it carries, its label, the card state that shows it and the command a
press builds. Channels make their buttons from `BUTTONS` and read a press back with `from_telegram` /
`from_slack`, so a new button is one row here and one handler. The wire forms are what cards already in chats
carry, and stay as they are: Telegram `<code>:<id>[:<n>]` (64 bytes at most), Slack `<action id>` with the id
as value (`<id>:<index>` for an action, `<id>|<tag>` where several buttons share an id)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum

from orchestrator import commands as cmd
from orchestrator.errors import BadRequest
from orchestrator.model import Actor, ChatRef, Verdict


class Arg(Enum):
    """What a button carries after the id: the version the card showed, an action's index, or nothing."""

    ID = "id"
    VERSION = "version"
    INDEX = "index"


class Ask(Enum):
    """What a press asks for first, where a channel can ask: a reason (optional: a channel that can't ask
    presses at once), what should change, the fields to edit, or nothing but to read the full text."""

    REASON = "reason"
    FEEDBACK = "feedback"
    FIELDS = "fields"
    READ = "read"


class Shown(Enum):
    """The state of a card that shows a button (bot/cards.py `CardView.shows`)."""

    PENDING = "pending"
    REVISABLE = "revisable"
    REVISE_INSTEAD = "revise_instead"
    REMINDER = "reminder"
    UNDOABLE = "undoable"
    UNSURE = "unsure"
    REST = "rest"
    CANCELLABLE = "cancellable"
    TRUNCATED = "truncated"
    GRANTABLE = "grantable"
    OFFERED = "offered"
    """The card offers the button's action and it was not pressed yet (`Proposal.offers`, by the button's name)."""


@dataclass(frozen=True)
class Target:
    """A button's typed argument: the proposal (a digest for Approve all low-risk), and the version the card
    showed or the index of the action it names."""

    id: str
    version: int | None = None
    index: int | None = None


@dataclass(frozen=True)
class Click:
    """A press of `button` naming `target`; `reason` is what the press asked for first (a modal's field, a reply
    to a prompt), `event_id` the platform's id for the press, `delivery` the stored copy it came from."""

    actor: Actor
    chat: ChatRef
    button: Button
    target: Target
    event_id: str
    reason: str = ""
    delivery: str = ""


Build = Callable[[Click], cmd.Command]


@dataclass(frozen=True)
class Button:
    name: str
    code: str
    """Telegram's callback data starts `<code>:` ('': a button Telegram doesn't show)."""
    action_id: str
    """Slack's action id."""
    arg: Arg
    label: str
    mark: str
    """The emoji in front of the label where a channel shows one (Telegram)."""
    shown: Shown | None
    """None: not on a card (a digest's button)."""
    build: Build | None
    """None: nothing to command; the channel answers it itself (Full text, Edit's form)."""
    ask: Ask | None = None
    style: str = ""
    """`primary` or `danger`, where a channel colours buttons (Slack)."""
    row: str = ""
    """Buttons with the same row sit side by side where a channel lays out rows (Telegram)."""
    tag: str = ""
    """Several buttons on one Slack action id tell themselves apart by `<id>|<tag>` in the value."""
    redraws: bool = True
    """A press redraws its card, so only a refusal needs an answer of its own."""

    def telegram(self, target: Target) -> str:
        number = target.version if self.arg is Arg.VERSION else target.index if self.arg is Arg.INDEX else None
        return f"{self.code}:{target.id}" + ("" if number is None else f":{number}")

    def slack_value(self, target: Target) -> str:
        if self.arg is Arg.INDEX and target.index is not None:
            return f"{target.id}:{target.index}"
        return f"{target.id}|{self.tag}" if self.tag else target.id

    def press(self, click: Click) -> cmd.Command:
        if self.build is None:
            raise BadRequest(f"The {self.label} button asks for something first; /help lists the typed words.")
        return self.build(click)


# ---- the commands presses build ---------------------------------------------------------------------------


def _decide(verdict: Verdict) -> Build:
    def build(c: Click) -> cmd.Command:
        return cmd.DecideProposal(
            proposal_id=c.target.id,
            actor=c.actor,
            verdict=verdict,
            chat=c.chat,
            reason=c.reason,
            event_id=c.event_id,
            version=c.target.version,
        )

    return build


def _revise(c: Click) -> cmd.Command:
    """The feedback is what the press asked for (a modal's field, a reply to the prompt), on the card's version."""
    t = c.target
    return cmd.ReviseProposal(
        proposal_id=t.id, actor=c.actor, chat=c.chat, feedback=c.reason, version=t.version, event_id=c.event_id
    )


def _revise_instead(c: Click) -> cmd.Command:
    return cmd.ReviseRejected(proposal_id=c.target.id, actor=c.actor, chat=c.chat, event_id=c.event_id)


def _snooze(until: str) -> Build:
    def build(c: Click) -> cmd.Command:
        return cmd.SnoozeProposal(proposal_id=c.target.id, actor=c.actor, chat=c.chat, until=until, event_id=c.event_id)

    return build


def _undo(c: Click) -> cmd.Command:
    return cmd.UndoProposal(proposal_id=c.target.id, actor=c.actor, chat=c.chat, event_id=c.event_id)


def _remedy(kind: type[cmd.SendAgain] | type[cmd.MarkSent]) -> Build:
    """Send again / Mark as sent name the action by its index; a press without one names nothing."""

    def build(c: Click) -> cmd.Command:
        if c.target.index is None:
            raise BadRequest("That button names no action; /status lists what waits for you.")
        return kind(proposal_id=c.target.id, actor=c.actor, chat=c.chat, index=c.target.index, event_id=c.event_id)

    return build


def _always_allow(c: Click) -> cmd.Command:
    t = c.target
    return cmd.AlwaysAllow(proposal_id=t.id, actor=c.actor, chat=c.chat, version=t.version, event_id=c.event_id)


def _run_rest(c: Click) -> cmd.Command:
    return cmd.RunRest(proposal_id=c.target.id, actor=c.actor, chat=c.chat, event_id=c.event_id)


def _cancel(c: Click) -> cmd.Command:
    return cmd.CancelLater(proposal_id=c.target.id, actor=c.actor, chat=c.chat, event_id=c.event_id)


def _stop(c: Click) -> cmd.Command:
    """The running task's Stop: `/cancel <task id>` (handlers/later.py passes a task's id on to stopping)."""
    return cmd.CancelLater(proposal_id=c.target.id, actor=c.actor, chat=c.chat, event_id=c.event_id)


def _offer(name: str, label: str) -> Build:
    def build(c: Click) -> cmd.Command:
        return cmd.TakeOffer(
            proposal_id=c.target.id, name=name, label=label, actor=c.actor, chat=c.chat, event_id=c.event_id
        )

    return build


# ---- the table --------------------------------------------------------------------------------------------

APPROVE = Button(
    "approve", "a", "deputy_approve", Arg.VERSION, "Approve", "✅", Shown.PENDING, _decide(Verdict.APPROVE),
    style="primary", row="decide",
)  # fmt: skip
REJECT = Button(
    "reject", "r", "deputy_reject", Arg.VERSION, "Reject", "✖️", Shown.PENDING, _decide(Verdict.REJECT),
    ask=Ask.REASON, style="danger", row="decide",
)  # fmt: skip
REVISE = Button(
    "revise", "v", "deputy_revise", Arg.VERSION, "Revise", "✏️", Shown.REVISABLE, _revise, ask=Ask.FEEDBACK,
    row="decide",
)  # fmt: skip
EDIT = Button("edit", "", "deputy_edit", Arg.VERSION, "Edit", "✏️", Shown.PENDING, None, ask=Ask.FIELDS)
REVISE_INSTEAD = Button(
    "revise_instead", "rv", "deputy_revise_instead", Arg.ID, "Revise with this instead?", "✏️",
    Shown.REVISE_INSTEAD, _revise_instead, style="primary",
)  # fmt: skip
SNOOZE = Button(
    "snooze", "s", "deputy_snooze", Arg.ID, "Snooze 1h", "⏰", Shown.REMINDER, _snooze("1h"), row="snooze", tag="1h"
)
TOMORROW = Button(
    "tomorrow", "t", "deputy_snooze", Arg.ID, "Tomorrow", "⏰", Shown.REMINDER, _snooze("tomorrow"), row="snooze",
    tag="tomorrow",
)  # fmt: skip
UNDO = Button("undo", "u", "deputy_undo", Arg.ID, "Undo", "↩️", Shown.UNDOABLE, _undo)
RESEND = Button(
    "resend", "rs", "deputy_resend", Arg.INDEX, "Send again", "🔁", Shown.UNSURE, _remedy(cmd.SendAgain),
    style="primary", row="unsure",
)  # fmt: skip
MARK_SENT = Button(
    "mark_sent", "ms", "deputy_mark_sent", Arg.INDEX, "Mark as sent", "☑️", Shown.UNSURE, _remedy(cmd.MarkSent),
    row="unsure",
)  # fmt: skip
RUN_REST = Button(
    "run_rest", "rr", "deputy_run_rest", Arg.ID, "Run the rest", "▶️", Shown.REST, _run_rest, style="primary"
)
CANCEL = Button("cancel", "c", "deputy_cancel", Arg.ID, "Cancel", "🛑", Shown.CANCELLABLE, _cancel, style="danger")
FULL = Button("full", "f", "deputy_full", Arg.ID, "Full text", "📄", Shown.TRUNCATED, None, ask=Ask.READ)
APPROVE_LOW = Button(
    "approve_low", "al", "deputy_approve_low", Arg.ID, "Approve all low-risk", "✅", None, None, style="primary",
    redraws=False,
)  # fmt: skip
"""A digest's button: each low-risk proposal it listed, approved at the version it showed (the bus fans it out)."""
STOP = Button("stop", "x", "deputy_stop", Arg.ID, "Stop", "⏹", None, _stop, style="danger", redraws=False)
"""A running task's progress message's button (not a card's): stops the task, its model call abandoned."""
ALWAYS_ALLOW = Button(
    "always_allow", "aa", "deputy_always_allow", Arg.VERSION, "Always allow", "♾️", Shown.GRANTABLE, _always_allow,
    row="grant",
)  # fmt: skip
"""On a card of tool calls only: approve it, and from now on those tools' calls need no tap (a standing grant)."""

MARK_READ = Button(
    "mark_read", "mr", "deputy_mark_read", Arg.ID, "Mark read", "👁", Shown.OFFERED, _offer("mark_read", "Mark read"),
    row="offer", redraws=False,
)  # fmt: skip
"""On an inbox card: the email flagged \\Seen in its folder (an `email.file` action, approved by the press)."""
ARCHIVE = Button(
    "archive", "ar", "deputy_archive", Arg.ID, "Archive", "🗄", Shown.OFFERED, _offer("archive", "Archive"),
    row="offer", redraws=False,
)  # fmt: skip
"""On an inbox card: the email moved to DEPUTY_IMAP_ARCHIVE (an `email.file` action, approved by the press)."""
ADD_CLIENT = Button(
    "add_client", "ac", "deputy_add_client", Arg.ID, "Add as client", "👤", Shown.OFFERED,
    _offer("add_client", "Add as client"), row="offer", redraws=False,
)  # fmt: skip
"""On a stranger's inbox card: a client record made from the sender (a `record.create`, approved by the press)."""

BUTTONS: tuple[Button, ...] = (
    APPROVE, REJECT, REVISE, EDIT, REVISE_INSTEAD, SNOOZE, TOMORROW, UNDO, RESEND, MARK_SENT, RUN_REST, CANCEL, FULL,
    APPROVE_LOW, STOP, ALWAYS_ALLOW, ADD_CLIENT, MARK_READ, ARCHIVE,
)  # fmt: skip
"""In the order a card shows them."""
BY_NAME = {button.name: button for button in BUTTONS}
"""For a channel that encodes a button by its name (a plug-in's own)."""
BY_CODE = {button.code: button for button in BUTTONS if button.code}
BY_ACTION_ID: dict[str, tuple[Button, ...]] = {}
for _button in BUTTONS:
    BY_ACTION_ID[_button.action_id] = (*BY_ACTION_ID.get(_button.action_id, ()), _button)


def from_telegram(data: str) -> tuple[Button, Target] | None:
    """Callback data `<code>:<id>[:<n>]` → the button and what it names (n: the card's version, or an action's
    index); None for a code this Deputy doesn't know (a button from an older one)."""
    code, _, rest = data.partition(":")
    button = BY_CODE.get(code)
    if button is None:
        return None
    target_id, _, number = rest.partition(":")
    return button, _target(button, target_id, int(number) if number.isdigit() else None)


def from_slack(action_id: str, value: str, version: int | None) -> tuple[Button, Target] | None:
    """A Slack action (its id and value; `version` from its block id) → the button and what it names."""
    found = BY_ACTION_ID.get(action_id, ())
    target_id, _, tag = value.partition("|")
    button = next((b for b in found if b.tag == tag), found[0] if found else None)
    if button is None:
        return None
    if button.arg is Arg.INDEX:
        target_id, _, index = target_id.partition(":")
        return button, Target(target_id, index=int(index) if index.isdigit() else None)
    return button, _target(button, target_id, version)


def _target(button: Button, target_id: str, number: int | None) -> Target:
    if button.arg is Arg.VERSION:
        return Target(target_id, version=number)
    return Target(target_id, index=number) if button.arg is Arg.INDEX else Target(target_id)
