"""The offline model's revisions: plain feedback ("shorter, more formal", "subject Invoice 42", "mention the late
fee", "add …", "to maria@acme.com") applied to a draft, one piece at a time, deterministically. Feedback it
can't read is answered with a question, as a model unsure of the change would ask."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from agents.headlines import clip
from connectors.later import plain_time, when

Fields = dict[str, Any]
TEXT_FIELDS = ("body", "text", "note", "answer")
"""The field a revision of the wording changes: the first of these the draft has."""
_CLAUSE = re.compile(
    r"\s*(?:[,;\n]|\.\s+|\band\b(?=\s+(?:make|shorter|more|less|subject|mention|add|include|to)\b))\s*"
)
_SIGN_OFF = re.compile(r"^(?:best|kind|warm|regards|thanks|thank you|cheers|yours|sincerely)\b", re.I)
_COURTESY = re.compile(r"^please let me know\b", re.I)
_GREETING = re.compile(r"^(?:hi|hello|hey|dear)\b[^\n]*,$", re.I)
FORMAL = (
    (r"^(?:Hi|Hello|Hey) ([^\n,]+),", r"Dear \1,"),
    (r"\bBest regards,", "Kind regards,"),
    (r"^(?:Best|Cheers|Thanks),$", "Kind regards,"),  # a casual sign-off on its own line
    (r"\bThanks\b", "Thank you"),
    (r"\bI'm\b", "I am"),
    (r"\bI'll\b", "I will"),
    (r"\bI've\b", "I have"),
    (r"\bwe're\b", "we are"),
    (r"\byou're\b", "you are"),
    (r"\bdon't\b", "do not"),
    (r"\bcan't\b", "cannot"),
    (r"\bit's\b", "it is"),
    (r"\blet's\b", "let us"),
)
CASUAL = (
    (r"^Dear ([^\n,]+),", r"Hi \1,"),
    (r"\b(?:Kind regards|Yours sincerely|Best regards),", "Best,"),
)
WARM_LINE = "I hope you're doing well."


def revise(previous: dict[str, Any], feedback: str) -> dict[str, Any]:
    """The draft with each piece of feedback applied in turn, in the draft's own shape."""
    fields: Fields = dict(previous.get("fields") or {})
    understood = False
    for clause in (c.strip(" .!") for c in _CLAUSE.split(feedback) if c.strip(" .!")):
        if moved := _moved(fields, clause):  # a request for later: "at 12:30", "tomorrow 9am", "on Wed 9 Dec"
            previous = {**previous, "summary": _retimed(str(previous.get("summary") or ""), fields["at"], moved)}
            fields, understood = {**fields, "at": moved}, True
            continue
        for pattern, rewrite in RULES:
            if match := pattern.match(clause):
                fields, understood = rewrite(fields, match), True
                break
    if not understood:
        return {
            "question": f"I couldn't tell what to change from “{feedback}”. Try e.g. shorter, more formal, "
            "subject <new subject>, mention <something>, add <a sentence>, or to <address>."
        }
    summary = str(previous.get("summary") or "")
    if "to" in fields and "subject" in fields and str(summary).startswith("Email "):
        summary = clip(f"Email {fields['to']}: {fields['subject']}")
    return {"summary": summary, "confidence": 0.9, "fields": fields}


_MOVE = re.compile(r"^(?:move\s+it\s+|make\s+it\s+|change\s+the\s+time\s+)?(?:to\s+)?(?P<when>.+)$", re.I)


def _moved(fields: Fields, clause: str) -> str:
    """The new time of a draft that has one (`at`), read as `/edit … at` reads it: '' when the clause is no time."""
    if not isinstance(fields.get("at"), str) or not (match := _MOVE.match(clause)):
        return ""
    try:
        was = datetime.fromisoformat(fields["at"])
    except ValueError:
        return ""
    zone = was.tzinfo or UTC
    found = plain_time(match["when"], datetime.now(zone), was if was.tzinfo else was.replace(tzinfo=zone))
    return found.isoformat(timespec="seconds") if found else ""


def _retimed(summary: str, was: str, now: str) -> str:
    """The headline's time ("Follow up Wed 9 Dec 12:09: …") written anew, the one way cards write a time."""
    old, new = (datetime.fromisoformat(t) for t in (was, now))
    zone = str(old.tzinfo or "UTC")
    return summary.replace(when(old, zone).split(" (")[0], when(new, zone).split(" (")[0])


def _text(fields: Fields, change: Callable[[str], str]) -> Fields:
    name = next((n for n in TEXT_FIELDS if isinstance(fields.get(n), str)), None)
    return {**fields, name: change(fields[name])} if name else fields


def _paragraphs(text: str) -> list[str]:
    return [p.strip("\n") for p in re.split(r"\n\s*\n", text.strip("\n")) if p.strip()]


def _join(paragraphs: list[str], like: str) -> str:
    return "\n\n".join(paragraphs) + ("\n" if like.endswith("\n") else "")


def shorter(text: str) -> str:
    """The greeting and the sign-off stay; of the rest only each paragraph's first sentence, and no courtesies."""
    paragraphs = _paragraphs(text)
    kept = [p if _GREETING.match(p) or _SIGN_OFF.match(p) else _first_sentence(p) for p in paragraphs]
    kept = [p for p in kept if not _COURTESY.match(p)]
    done = _join(kept, text)
    return done if len(done) < len(text) else text[: max(1, len(text) * 2 // 3)].rstrip() + "…"


def _first_sentence(paragraph: str) -> str:
    match = re.match(r"(.+?[.!?])(?:\s|$)", paragraph, re.S)
    return match[1] if match else paragraph


def _substituted(rules: tuple[tuple[str, str], ...]) -> Callable[[str], str]:
    def change(text: str) -> str:
        for pattern, replacement in rules:
            text = re.sub(pattern, replacement, text, flags=re.M)
        return text

    return change


def warmer(text: str) -> str:
    text = _substituted(CASUAL)(text)
    paragraphs = _paragraphs(text)
    if WARM_LINE in text or not paragraphs or not _GREETING.match(paragraphs[0]):
        return text
    return _join([paragraphs[0], WARM_LINE, *paragraphs[1:]], text)


def added(sentence: str) -> Callable[[str], str]:
    """A paragraph of its own, before the courtesies and the sign-off (at the end of a text without them).
    "add that the draft is attached" adds "The draft is attached.", not "That the draft…"."""
    sentence = re.sub(r"^that\s+", "", sentence, flags=re.I) or sentence
    sentence = sentence[0].upper() + sentence[1:]
    sentence += "" if sentence.endswith((".", "!", "?")) else "."

    def change(text: str) -> str:
        paragraphs = _paragraphs(text)
        at = next((i for i, p in enumerate(paragraphs) if i and (_COURTESY.match(p) or _SIGN_OFF.match(p))), None)
        at = len(paragraphs) if at is None else at
        return _join([*paragraphs[:at], sentence, *paragraphs[at:]], text)

    return change


def _unquoted(text: str) -> str:
    return text.strip().strip("\"'“”‘’").strip()


Rule = tuple[re.Pattern[str], Callable[[Fields, re.Match[str]], Fields]]
_WAY = r"^(?:(?:please\s+)?make\s+it\s+|be\s+)?(?:a\s+(?:bit|little)\s+|much\s+|slightly\s+)?"
RULES: tuple[Rule, ...] = (
    (
        re.compile(_WAY + r"(?:shorter|briefer|more\s+concise|concise|brief|short)$", re.I),
        lambda f, m: _text(f, shorter),
    ),
    (re.compile(_WAY + r"(?:more\s+formal|formal)$", re.I), lambda f, m: _text(f, _substituted(FORMAL))),
    (
        re.compile(_WAY + r"(?:less\s+formal|more\s+casual|casual|informal)$", re.I),
        lambda f, m: _text(f, _substituted(CASUAL)),
    ),
    (re.compile(_WAY + r"(?:warmer|friendlier|more\s+friendly|more\s+warmly)$", re.I), lambda f, m: _text(f, warmer)),
    (
        re.compile(r"^(?:change\s+the\s+|new\s+)?subject(?:\s+line)?\s*(?:to\b|:|=|should\s+be\b)?\s*(?P<s>.+)$", re.I),
        lambda f, m: {**f, "subject": _unquoted(m["s"])[:120]} if "subject" in f else f,
    ),
    (
        re.compile(r"^(?:also\s+|please\s+)?mention\s+(?P<s>.+)$", re.I),
        lambda f, m: _text(f, added(f"I also wanted to mention {_unquoted(m['s'])}")),
    ),
    (
        re.compile(r"^(?:also\s+|please\s+)?(?:add|include)\s+(?P<s>.+)$", re.I),
        lambda f, m: _text(f, added(_unquoted(m["s"]))),
    ),
    (
        re.compile(r"^(?:(?:send|address)\s+it\s+|send\s+)?to\s+(?P<s>[^\s@]+@[^\s@]+\.\w+)$", re.I),
        lambda f, m: {**f, "to": m["s"].strip("<>()")} if "to" in f else f,
    ),
)
