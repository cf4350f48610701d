"""What Slack posts to `/slack/events`, checked before it is stored: an Events API callback (JSON), an
interaction (form field `payload`, JSON) or a slash command (form fields). Pure: body in, what it is out, or
`Malformed` — Slack's own requests always pass; anything else signed with the secret is a 400."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs

from bot.payloads import Malformed, json_object, need

INTERACTIONS = {"block_actions", "view_submission", "view_closed", "shortcut", "message_action", "block_suggestion"}


@dataclass(frozen=True)
class Checked:
    kind: str
    """event, interaction, command, url_verification or ssl_check."""
    challenge: str = ""


def check(body: bytes, content_type: str) -> Checked:
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise Malformed("body is not UTF-8") from None
    if content_type.startswith("application/json"):
        return _callback(json_object(text))
    form = {k: v[0] for k, v in parse_qs(text, keep_blank_values=True).items()}
    if "payload" in form:
        return _interaction(json_object(form["payload"]))
    if form.get("ssl_check") == "1":
        return Checked("ssl_check")
    for name in ("command", "user_id", "channel_id"):
        if not form.get(name):
            raise Malformed(f"missing {name}")
    return Checked("command")


def _callback(data: dict[str, Any]) -> Checked:
    kind = need(data, "type", str)
    if kind == "url_verification":
        return Checked("url_verification", need(data, "challenge", str))
    if kind != "event_callback":
        raise Malformed(f"unexpected type {kind[:40]!r}")
    need(data, "event_id", str)
    need(data, "event.type", str)
    return Checked("event")


def _interaction(data: dict[str, Any]) -> Checked:
    kind = need(data, "type", str)
    if kind not in INTERACTIONS:
        raise Malformed(f"unexpected interaction {kind[:40]!r}")
    need(data, "user.id", str)
    if kind == "block_actions":
        for action in need(data, "actions", list):
            if not isinstance(action, dict) or not isinstance(action.get("action_id"), str):
                raise Malformed("an action without action_id")
    if kind == "view_submission":
        need(data, "view.id", str)
    return Checked("interaction")
