"""The chat words, declared once: each word's name, arguments, help line and the command it builds. The
parser, `/help`, Telegram's command menu and Slack's `/deputy <word>` are all made from `WORDS`. Parsing is
pure: a message in, a command (or `BadRequest`) out, the same on every channel."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, replace

from orchestrator import commands as cmd
from orchestrator.actors import MemoryWord
from orchestrator.errors import BadRequest
from orchestrator.model import MemoryAsk, Verdict
from orchestrator.policies import clean_text


@dataclass(frozen=True)
class Words:
    """A lexed message: `verb` is '' for plain text (a task), else the command without its slash."""

    verb: str
    arg: str = ""

    @property
    def first(self) -> str:
        return self.arg.split(maxsplit=1)[0] if self.arg.split() else ""

    @property
    def rest(self) -> str:
        parts = self.arg.split(maxsplit=1)
        return parts[1] if len(parts) > 1 else ""


@dataclass(frozen=True)
class Said:
    """What a word's builder gets: the lexed words and the message they came in."""

    words: Words
    inbound: cmd.Inbound

    def proposal_id(self, *, bare: bool = False) -> str:
        """The id typed (or its start); with `bare`, none at all means the only proposal waiting."""
        if not self.words.first and not bare:
            raise BadRequest(f"Which proposal? Type /{self.words.verb} <id>; /status lists pending ones.")
        return self.words.first


Build = Callable[[Said], cmd.Command]


@dataclass(frozen=True)
class Word:
    name: str
    args: str
    help: str
    build: Build
    menu: bool = True
    """Offered in a platform's command menu (Telegram); `/start` is Telegram's own and stays off the list."""

    @property
    def usage(self) -> str:
        return f"/{self.name} {self.args}".rstrip()


def _task(said: Said) -> cmd.Command:
    """Plain text that starts with a memory word ("remember ACME pays net 30") is that word, as it always was."""
    i, text = said.inbound, said.words.arg
    return cmd.SubmitTask(text=text, actor=i.actor, chat=i.chat, event_id=i.event_id, memory=memory_ask(text))


def _memory(word: MemoryWord) -> Build:
    def build(said: Said) -> cmd.Command:
        i, arg = said.inbound, said.words.arg
        kind, _, name = arg.partition(" ")
        if word is MemoryWord.FORGET and kind.lower() in ("client", "project"):
            return _record("forget")(Said(Words("forget", f"{kind.lower()} {name}"), i))
        ask = MemoryAsk(word, arg.strip())
        return cmd.SubmitTask(text=f"{word} {arg}".strip(), actor=i.actor, chat=i.chat, event_id=i.event_id, memory=ask)

    return build


def memory_ask(text: str) -> MemoryAsk | None:
    """The memory word a request starts with, and what follows it; None for any other request."""
    verb, _, rest = text.strip().partition(" ")
    word = next((w for w in MemoryWord if w.value == verb.lower()), None)
    return None if word is None else MemoryAsk(word, rest.strip())


def _decide(verdict: Verdict) -> Build:
    def build(said: Said) -> cmd.Command:
        i = said.inbound
        return cmd.DecideProposal(
            proposal_id=said.proposal_id(bare=True),
            actor=i.actor,
            verdict=verdict,
            chat=i.chat,
            reason=said.words.rest,
            event_id=i.event_id,
        )

    return build


def _undo(said: Said) -> cmd.Command:
    i = said.inbound
    return cmd.UndoProposal(proposal_id=said.proposal_id(), actor=i.actor, chat=i.chat, event_id=i.event_id)


def _edit(said: Said) -> cmd.Command:
    field_name, _, value = said.words.rest.partition(" ")
    if not field_name or not value.strip():
        raise BadRequest("Type /edit <id> <field> <new value>, e.g. /edit p1 subject Invoice 42 reminder.")
    i = said.inbound
    changes = {field_name: value.strip()}
    return cmd.EditProposal(
        proposal_id=said.proposal_id(), actor=i.actor, chat=i.chat, changes=changes, event_id=i.event_id
    )


def _revise(said: Said) -> cmd.Command:
    i = said.inbound
    return cmd.ReviseProposal(
        proposal_id=said.proposal_id(), actor=i.actor, chat=i.chat, feedback=said.words.rest, event_id=i.event_id
    )


def _cancel(said: Said) -> cmd.Command:
    i = said.inbound
    return cmd.CancelLater(proposal_id=said.proposal_id(bare=True), actor=i.actor, chat=i.chat, event_id=i.event_id)


def _snooze(said: Said) -> cmd.Command:
    i = said.inbound
    until = said.words.rest.strip() or "1h"
    return cmd.SnoozeProposal(
        proposal_id=said.proposal_id(), actor=i.actor, chat=i.chat, until=until, event_id=i.event_id
    )


def _remedy(kind: type[cmd.SendAgain] | type[cmd.MarkSent]) -> Build:
    """`/resend p1 2`: the action by its number on the card; without one, the action that waits."""

    def build(said: Said) -> cmd.Command:
        i = said.inbound
        return kind(
            proposal_id=said.proposal_id(), index=_number(said), actor=i.actor, chat=i.chat, event_id=i.event_id
        )

    return build


def _number(said: Said) -> int | None:
    number = said.words.rest.strip().lstrip("#")
    if not number:
        return None
    if not number.isdigit() or int(number) < 1:
        raise BadRequest(f"Type /{said.words.verb} <id> [n], n being the action's number on the card (1 is the first).")
    return int(number) - 1


def _retry(said: Said) -> cmd.Command:
    i = said.inbound
    return cmd.RunRest(proposal_id=said.proposal_id(), actor=i.actor, chat=i.chat, event_id=i.event_id)


def _view(name: str) -> Build:
    def build(said: Said) -> cmd.Command:
        i = said.inbound
        return cmd.ShowView(view=name, actor=i.actor, chat=i.chat, event_id=i.event_id, arg=said.words.arg)

    return build


def _record(word: str) -> Build:
    def build(said: Said) -> cmd.Command:
        i = said.inbound
        if not said.words.arg.strip():
            raise BadRequest(f"Type {BY_NAME[word].usage}.")
        if word == "client" and (adding := _ADD.match(said.words.arg)):
            return _add_client(said, adding[1])
        return cmd.RecordWord(word=word, text=said.words.arg, actor=i.actor, chat=i.chat, event_id=i.event_id)

    return build


_ADD = re.compile(r"^add\s+(p\w+)\s*$", re.I)
"""`/client add <proposal id>`: an inbox card's Add as client, typed (a client called "Add" is `/client Add …`
with a field)."""


def _add_client(said: Said, proposal_id: str) -> cmd.Command:
    return _offer(said, proposal_id, "add_client", "Add as client")


def _offer(said: Said, proposal_id: str, name: str, label: str) -> cmd.Command:
    i = said.inbound
    return cmd.TakeOffer(
        proposal_id=proposal_id, name=name, label=label, actor=i.actor, chat=i.chat, event_id=i.event_id
    )


_FILE = re.compile(r"^(read|archive)\s+(p\w+)\s*$", re.I)
FILING = {"read": ("mark_read", "Mark read"), "archive": ("archive", "Archive")}
"""`/inbox read <id>`, `/inbox archive <id>`: an inbox card's Mark read and Archive, typed."""


def _inbox(said: Said) -> cmd.Command:
    filing = _FILE.match(said.words.arg)
    if filing is None:
        return _view("inbox")(said)
    return _offer(said, filing[2], *FILING[filing[1].lower()])


def _tools(word: str) -> Build:
    def build(said: Said) -> cmd.Command:
        i = said.inbound
        return cmd.ToolWord(word=word, text=said.words.arg, actor=i.actor, chat=i.chat, event_id=i.event_id)

    return build


def _digest(said: Said) -> cmd.Command:
    return cmd.PostDigest(chat=said.inbound.chat, event_id=said.inbound.event_id)


WORDS: tuple[Word, ...] = (
    Word("task", "<text>", "start a task (plain text does the same)", _task),
    Word("approve", "[id]", "approve a proposal (no id: the only one waiting)", _decide(Verdict.APPROVE)),
    Word("reject", "[id] [reason]", "reject a proposal, saying why if you like", _decide(Verdict.REJECT)),
    Word("undo", "<id>", "cancel an approved action in its undo window", _undo),
    Word("revise", "<id> <what to change>", "the model redrafts a proposal with your feedback", _revise),
    Word("edit", "<id> <field> <value>", "change a pending proposal (e.g. /edit p1 subject Hi)", _edit),
    Word("snooze", "<id> [1h|tomorrow]", "put off a proposal's reminder", _snooze),
    Word("resend", "<id> [n]", "send again an action that may not have been sent", _remedy(cmd.SendAgain)),
    Word("sent", "<id> [n]", "mark an action that may not have been sent as sent", _remedy(cmd.MarkSent)),
    Word("retry", "<id>", "run the rest of a proposal after a failure", _retry),
    Word("cancel", "[id]", "cancel a task scheduled for later, or stop a running one (no id: the only one)", _cancel),
    Word("status", "", "running tasks, pending proposals, today's spend", _view("status")),
    Word("remember", "<fact>", "remember a fact", _memory(MemoryWord.REMEMBER)),
    Word("recall", "<query>", "search memory", _memory(MemoryWord.RECALL)),
    Word(
        "forget",
        "<id> | client <name>",
        "forget a remembered fact, or a client for good",
        _memory(MemoryWord.FORGET),
    ),
    Word("who", "<name | email | domain>", "a client or project: fields, open work, last sent, facts", _view("who")),
    Word("clients", "[status]", "the clients (lead, active, past)", _view("clients")),
    Word("projects", "", "the projects", _view("projects")),
    Word(
        "client",
        "<name> <field> <value>",
        "change a record (e.g. /client Acme terms net 45); /client add <id>: an email card's sender as a client",
        _record("client"),
    ),
    Word("merge", "<name> <name>", "join two records and their timelines", _record("merge")),
    Word(
        "inbox",
        "[read|archive <id>]",
        "emails that need a reply, oldest first; read/archive: an email card's Mark read/Archive",
        _inbox,
    ),
    Word("digest", "", "the digest now", _digest),
    Word("budget", "", "model spend today, per model, and the cap", _view("budget")),
    Word("stats", "[7d]", "what happened to proposals and the time saved", _view("stats")),
    Word("tools", "", "the MCP tools and their policy (allow, ask, deny)", _tools("tools")),
    Word("grants", "[revoke <id>]", "the tools you always allow; revoke one", _tools("grants")),
    Word("help", "", "this list", _view("help")),
    Word("start", "", "what Deputy understands", _view("help"), menu=False),
)
BY_NAME = {word.name: word for word in WORDS}
DECIDING = frozenset({"approve", "reject", "undo", "resend", "sent", "retry", "cancel", "forget"})
"""The words that decide or act at once: the console never runs one that came in a paste without asking."""

_COMMAND = re.compile(r"^/(?P<verb>[A-Za-z_]+)(?:@\S+)?(?:\s+(?P<arg>.*))?$", re.DOTALL)


def lex(text: str) -> Words:
    """`/approve@deputy_bot p1` (Telegram groups) and `/Approve p1` lex like `/approve p1`; `/task x` is x."""
    match = _COMMAND.match(text.strip())
    if not match:
        return Words("", text)
    verb = match["verb"].lower()
    arg = (match["arg"] or "").strip()
    return Words("", arg) if verb == "task" else Words(verb, arg)


def parse(inbound: cmd.Inbound) -> cmd.Command:
    """The command a message asks for; `BadRequest` for a word Deputy doesn't know or a missing argument.
    Control characters and lone surrogates never reach a command."""
    inbound = replace(inbound, text=clean_text(inbound.text))
    words = lex(inbound.text)
    if not words.verb:
        return _task(Said(words, inbound))
    word = BY_NAME.get(words.verb)
    if word is None:
        raise BadRequest(f"I don't know /{words.verb}. /help lists what I understand.")
    return word.build(Said(words, inbound))


def is_word(name: str) -> bool:
    return name.lower() in BY_NAME


def decides(text: str) -> bool:
    return lex(text).verb in DECIDING


def from_slash(text: str) -> str:
    """Slack's `/deputy <text>` as a message: `/deputy snooze p1 1h` is the word `/snooze p1 1h`,
    `/deputy email jane…` a task, a bare `/deputy` asks for help."""
    text = text.strip()
    if not text:
        return "/help"
    return f"/{text}" if is_word(text.split(maxsplit=1)[0]) else text


def help_text() -> str:
    lines = ["Deputy — what you can say:", _help_line("any plain text, or /task <text>", "start a task")]
    for word in WORDS:
        if word.menu and word.name != "task":
            lines.append(_help_line(word.usage, word.help))
    return "\n".join(lines)


def _help_line(usage: str, text: str) -> str:
    if len(usage) < 34:
        return f"  {usage:<34}{text}"
    return f"  {usage}\n  {'':<34}{text}"


def menu() -> list[tuple[str, str]]:
    """(command, description) for a platform's command menu, in the table's order."""
    return [(w.name, f"{w.help}: {w.usage}" if w.args else w.help) for w in WORDS if w.menu]
