"""No Docker engine runs where the tests run, so the Dockerfile and compose file are checked statically
against the code: they parse, name files that exist, run commands the CLI has, use settings Deputy reads,
and keep the contract's port, health route and Redis persistence."""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.cli import parser
from config.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
PROVIDER_KEYS = {"OPENAI_API_KEY", "ANTHROPIC_API_KEY"}


def instructions() -> list[tuple[str, str]]:
    text = (ROOT / "Dockerfile").read_text().replace("\\\n", " ")
    rows = [line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    return [(row.split(maxsplit=1)[0].upper(), row.split(maxsplit=1)[1]) for row in rows]


def cli_commands() -> set[str]:
    sub = next(a for a in parser()._actions if a.dest == "command")
    return set(sub.choices)  # type: ignore[arg-type]


def setting_names() -> set[str]:
    return {str(f.validation_alias) for f in Settings.model_fields.values()}


def test_dockerfile_is_multi_stage_slim_311_non_root_with_health_check() -> None:
    ops = instructions()
    froms = [arg for op, arg in ops if op == "FROM"]
    assert len(froms) == 2 and all(f.startswith("python:3.11-slim") for f in froms)
    assert ("USER", "deputy") in ops
    health = next(arg for op, arg in ops if op == "HEALTHCHECK")
    assert "/healthz" in health and "DEPUTY_PORT" in health
    assert ("ENTRYPOINT", '["deputy"]') in ops and ("CMD", '["up"]') in ops
    assert any(op == "RUN" and "uv sync --frozen" in arg for op, arg in ops)
    assert ("EXPOSE", str(Settings.model_fields["port"].default)) in ops


def test_dockerfile_copies_only_what_exists_and_sets_only_known_settings() -> None:
    for op, arg in instructions():
        if op == "COPY" and not arg.startswith("--from"):
            for source in shlex.split(arg)[:-1]:
                assert (ROOT / source).exists(), f"Dockerfile copies missing {source}"
        if op == "ENV":
            for name in re.findall(r"(DEPUTY_[A-Z_]+)=", arg):
                assert name in setting_names(), f"Dockerfile sets unknown {name}"


def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    return loaded


def test_compose_services_run_real_commands_with_real_settings() -> None:
    services = compose()["services"]
    deputy = {name: s for name, s in services.items() if s.get("build") == "."}
    assert set(deputy) == {"serve", "worker", "scheduler"}
    for name, service in deputy.items():
        assert service["command"][0] in cli_commands(), f"{name} runs an unknown deputy command"
        for variable in service["environment"]:
            assert variable in setting_names() | PROVIDER_KEYS, f"{name} sets unknown {variable}"
        assert service["environment"]["REDIS_URL"] == "redis://redis:6379/0"


def test_compose_keeps_the_contract_port_health_route_and_redis_persistence() -> None:
    services = compose()["services"]
    serve = services["serve"]
    assert serve["ports"] == [f"8080:{serve['environment']['DEPUTY_PORT']}"]
    assert "/healthz" in " ".join(serve["healthcheck"]["test"])
    assert "ports" not in services["worker"]  # workers scale with --scale worker=N, so they publish nothing
    command = " ".join(services["redis"]["command"])
    assert "--appendonly yes" in command and "--appendfsync always" in command
    assert "--auto-aof-rewrite-percentage 100" in command and "--auto-aof-rewrite-min-size 16mb" in command
    assert services["weaviate"]["profiles"] == ["weaviate"]


def test_image_leaves_out_local_state_and_secrets() -> None:
    ignored = set((ROOT / ".dockerignore").read_text().split())
    assert {".venv", ".deputy", ".env", ".git"} <= ignored


def test_compose_says_how_to_switch_memory_to_its_weaviate() -> None:
    text = (ROOT / "docker-compose.yml").read_text()
    for name in ("DEPUTY_MEMORY_BACKEND=weaviate", "DEPUTY_WEAVIATE_URL=http://weaviate:8080"):
        assert name in text and name.split("=")[0] in setting_names()


SLACK_METHOD_SCOPES = {
    "chat_postMessage": "chat:write",
    "chat_update": "chat:write",
    "chat_postEphemeral": "chat:write",
    "users_info": "users:read",
    "views_open": None,
    "views_publish": None,
}
"""The bot-token scope each Slack Web API method Deputy calls needs (https://api.slack.com/methods); auth.test
(doctor) and apps.connections.open (Socket Mode, with the app token) need none."""
SLACK_EVENT_SCOPES = {"message.im": "im:history", "app_mention": "app_mentions:read", "app_home_opened": None}
SLACK_WEB_API = re.compile(r"\.((?:chat|views|users|auth|apps|conversations|reactions|files|im|team|bots)_[A-Za-z]+)\(")


def slack_scopes_used() -> set[str]:
    """The scopes the code needs: its Web API calls, the events it subscribes to, the /deputy command."""
    called = {m for path in (ROOT / "bot" / "slack").glob("*.py") for m in SLACK_WEB_API.findall(path.read_text())}
    unknown = called - set(SLACK_METHOD_SCOPES)
    assert not unknown, f"Deputy now calls {unknown}: add each one's scope to SLACK_METHOD_SCOPES and SLACK_SCOPES"
    needed = {SLACK_METHOD_SCOPES[m] for m in called} | set(SLACK_EVENT_SCOPES.values()) | {"commands"}
    return {scope for scope in needed if scope}


def test_doctor_checks_exactly_the_slack_scopes_deputy_uses() -> None:
    from bot.slack.plugin import SLACK_SCOPES

    assert set(SLACK_SCOPES) == slack_scopes_used()


@pytest.mark.parametrize("mode", ["http", "socket"])
def test_slack_manifests_ask_for_exactly_what_deputy_uses(mode: str) -> None:
    from bot.slack.plugin import SLACK_SCOPES

    manifest = yaml.safe_load((ROOT / "docs" / f"slack-manifest-{mode}.yaml").read_text())
    assert sorted(manifest["oauth_config"]["scopes"]["bot"]) == sorted(SLACK_SCOPES)
    assert set(manifest["settings"]["event_subscriptions"]["bot_events"]) == set(SLACK_EVENT_SCOPES)
    settings = manifest["settings"]
    assert {"message.im", "app_mention", "app_home_opened"} <= set(settings["event_subscriptions"]["bot_events"])
    assert settings["interactivity"]["is_enabled"] and manifest["features"]["app_home"]["home_tab_enabled"]
    assert [c["command"] for c in manifest["features"]["slash_commands"]] == ["/deputy"]
    assert settings["socket_mode_enabled"] is (mode == "socket")
    urls = [settings["event_subscriptions"].get("request_url"), settings["interactivity"].get("request_url")]
    if mode == "http":
        assert urls == ["https://deputy.example.com/slack/events"] * 2
    else:
        assert urls == [None, None]
