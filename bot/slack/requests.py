"""What Slack posts to `/slack/events`, checked before it is stored: an Events API callback (JSON), an
interaction (form field `payload`, JSON) or a slash command (form fields). Pure: body in, what it is out, or
`Malformed` — Slack's own requests always pass; anything else signed with the secret is a 400."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import parse_qs, urlencode

from bot.payloads import Malformed, as_stored, cleaned, json_object, need

INTERACTIONS = {"block_actions", "view_submission", "view_closed", "shortcut", "message_action", "block_suggestion"}
TEXT, OBJECT, NAMED = (str,), (dict,), (dict, str)
SHAPES: dict[str, tuple[type, ...]] = {
    **dict.fromkeys(("type", "team_id", "user_id", "channel_id", "enterprise_id", "thread_ts", "ts", "text"), TEXT),
    **dict.fromkeys(("event_id", "api_app_id", "token", "trigger_id", "response_url", "subtype", "bot_id"), TEXT),
    **dict.fromkeys(("channel_type", "tab", "user_team", "function_execution_id", "action_id", "block_id"), TEXT),
    **dict.fromkeys(("action_ts", "value", "callback_id", "private_metadata", "id", "name", "username"), TEXT),
    **dict.fromkeys(("event", "message", "previous_message", "view", "item", "assistant_thread"), OBJECT),
    **dict.fromkeys(("container", "state"), OBJECT),
    **dict.fromkeys(("team", "user", "channel", "enterprise"), NAMED),
    **dict.fromkeys(("is_ext_shared_channel", "is_enterprise_install"), (bool,)),
    **dict.fromkeys(("authorizations", "actions"), (list,)),
}
"""The fields Bolt reads, by where they sit (the payload, its event, user, channel, team, view, each action),
and what they must be: Slack always sends them so, and Bolt trusts them."""


@dataclass(frozen=True)
class Checked:
    kind: str
    """event, interaction, command, url_verification or ssl_check."""
    challenge: str = ""
    body: str = ""
    """What to store: the request cleaned (no lone surrogates or control characters), in its own encoding."""


def check(body: bytes, content_type: str) -> Checked:
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise Malformed("body is not UTF-8") from None
    if content_type.startswith("application/json"):
        data = json_object(text)
        return replace(_callback(data), body=as_stored(text, data))
    form = {k: v[0] for k, v in parse_qs(text, keep_blank_values=True).items()}
    if "payload" in form:
        payload = json_object(form["payload"])
        clean = as_stored(form["payload"], payload)
        return replace(_interaction(payload), body=text if clean == form["payload"] else urlencode({"payload": clean}))
    if form.get("ssl_check") == "1":
        return Checked("ssl_check")
    for name in ("command", "user_id", "channel_id"):
        if not form.get(name):
            raise Malformed(f"missing {name}")
    return Checked("command", body=text if cleaned(form) == form else urlencode(cleaned(form)))


def _shaped(node: Any, depth: int = 0) -> None:
    """Each field Bolt reads has the type it expects, in the payload and one level down; every authorization
    and action is an object."""
    if not isinstance(node, dict) or depth > 1:
        return
    for key, value in node.items():
        allowed = SHAPES.get(key)
        if allowed is not None and value is not None and not isinstance(value, allowed):
            raise Malformed(f"{key} has the wrong type")
        if key in ("authorizations", "actions") and not all(isinstance(item, dict) for item in value or []):
            raise Malformed(f"{key} must be a list of objects")
        if isinstance(value, dict):
            _shaped(value, depth + 1)
    for action in node.get("actions") or []:
        _shaped(action, depth + 1)


def _callback(data: dict[str, Any]) -> Checked:
    _shaped(data)
    kind = need(data, "type", str)
    if kind == "url_verification":
        return Checked("url_verification", need(data, "challenge", str))
    if kind != "event_callback":
        raise Malformed(f"unexpected type {kind[:40]!r}")
    need(data, "event_id", str)
    need(data, "event.type", str)
    return Checked("event")


def _interaction(data: dict[str, Any]) -> Checked:
    _shaped(data)
    kind = need(data, "type", str)
    if kind not in INTERACTIONS:
        raise Malformed(f"unexpected interaction {kind[:40]!r}")
    need(data, "user.id", str)
    if kind == "block_actions":
        actions = need(data, "actions", list)
        if not actions or not all(isinstance(a.get("action_id"), str) for a in actions):
            raise Malformed("no actions, or an action without action_id")
    if data.get("channel") is not None:
        need(data, "channel.id", str)
    if kind in ("view_submission", "view_closed"):
        for path in ("view.id", "view.type", "view.callback_id"):  # Bolt's matchers index each of these
            need(data, path, str)
        values = need(data, "view.state.values", dict) if kind == "view_submission" else {}
        if not all(
            isinstance(block, dict) and all(isinstance(v, dict) for v in block.values()) for block in values.values()
        ):
            raise Malformed("view.state.values must hold objects")
    return Checked("interaction")


def _all_objects(values: Any) -> bool:
    return all(isinstance(value, dict) for value in values)
