"""The channel and source registries: Deputy's own plug-ins, those DEPUTY_PLUGINS adds, and the settings that
name a platform (any name is taken at start; `deputy doctor` names one no installed channel is)."""

from __future__ import annotations

import pytest

from bot import channels, sources
from bot.doctor import check_channels
from bot.web import labels
from config.settings import load_settings, settings_with
from orchestrator.errors import ConfigError


def test_deputys_own_channels_and_sources() -> None:
    settings = settings_with({})
    assert [c.platform for c in channels.installed(settings)] == ["console", "slack", "telegram"]
    assert [c.platform for c, _ in channels.configured(settings)] == ["console"]
    assert [s.name for s in sources.installed(settings)] == ["hooks", "inbox"]
    assert [s.name for s, _ in sources.configured(settings)] == ["hooks"]  # the inbox only with DEPUTY_IMAP_URL
    assert channels.chatting(settings) == ()
    both = settings_with({"SLACK_BOT_TOKEN": "xoxb-1", "TELEGRAM_BOT_TOKEN": "1:x"})
    assert channels.chatting(both) == ("slack", "telegram")


def test_metrics_labels_come_from_the_registries() -> None:
    assert labels() == {"/slack/": "slack", "/telegram/": "telegram", "/hooks/": "hooks"}


def test_a_plugin_platform_is_a_valid_operator_and_digest_channel() -> None:
    settings = settings_with({"DEPUTY_OPERATORS": "discord:42", "DEPUTY_DIGEST_CHANNEL": "discord:ops"})
    assert settings.operators == frozenset({"discord:42"}) and settings.report_chat.platform == "discord"
    assert channels.unknown_platforms(settings) == ["discord"]


async def test_doctor_names_a_platform_no_channel_is() -> None:
    lines = [c.line() for c in await check_channels(settings_with({"DEPUTY_OPERATORS": "discord:42"}))]
    assert lines[0] == "ok  Console: always available ('deputy chat')"
    assert any(line.startswith("FIX Channels: no channel named discord is installed") for line in lines)


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"DEPUTY_OPERATORS": "sam"}, "'sam' is not platform:id; use e.g. slack:U0123ABC or telegram:123456789"),
        ({"DEPUTY_PLUGINS": "my-plugin"}, "DEPUTY_PLUGINS: 'my-plugin' is not a module name"),
    ],
)
def test_bad_names_fail_with_todays_messages(values: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_settings(**values, _env_file=None)


def test_a_plugin_that_does_not_import_stops_deputy_with_one_line() -> None:
    with pytest.raises(ConfigError, match="DEPUTY_PLUGINS: can't import 'no_such_plugin'"):
        channels.installed(settings_with({"DEPUTY_PLUGINS": "no_such_plugin"}))
