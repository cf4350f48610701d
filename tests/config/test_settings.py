"""Settings: CONTRACT names, one-line errors naming the variable, secrets kept out of sight."""

from __future__ import annotations

import pytest

from config.settings import redact_url, settings_with
from orchestrator.errors import ConfigError


def load(**values: str) -> object:
    from config.settings import load_settings

    return load_settings(**values, _env_file=None)


def test_defaults_match_the_contract() -> None:
    s = settings_with({})
    assert (s.host, s.port, s.llm_model, s.daily_budget_usd, s.undo_seconds) == ("127.0.0.1", 8080, "offline", 5.0, 20)
    assert str(s.data_dir) == ".deputy" and s.operators == frozenset() and s.verify_model == "offline"


def test_operators_are_parsed() -> None:
    s = settings_with({"DEPUTY_OPERATORS": "slack:U123, telegram:456"})
    assert s.operators == frozenset({"slack:U123", "telegram:456"})


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"DEPUTY_SMTP_URL": "smtp://h:25"}, "DEPUTY_EMAIL_FROM is required"),
        ({"DEPUTY_SMTP_URL": "http://h"}, "DEPUTY_SMTP_URL: must look like smtp://"),
        (
            {"TELEGRAM_BOT_TOKEN": "1:x", "DEPUTY_TELEGRAM_MODE": "webhook"},
            "DEPUTY_TELEGRAM_WEBHOOK_SECRET is required",
        ),
        ({"DEPUTY_TIMEZONE": "Mars/Olympus"}, "DEPUTY_TIMEZONE: 'Mars/Olympus' is not an IANA time zone"),
        ({"DEPUTY_DIGEST_AT": "25:00"}, "DEPUTY_DIGEST_AT"),
        ({"DEPUTY_CALDAV_URL": "ftp://u:hunter2@h/cal/"}, r"DEPUTY_CALDAV_URL: must look like https://user:password@"),
        ({"DEPUTY_CALDAV_URL": "https://u:hunter2@h:99999/cal/"}, r"https://\*\*\*@h:99999/cal/: the port must be"),
    ],
)
def test_wrong_values_fail_with_one_line_naming_the_variable(values: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message) as caught:
        load(**values)
    assert "\n" not in str(caught.value)


def test_secret_values_are_never_echoed() -> None:
    with pytest.raises(ConfigError) as caught:
        load(DEPUTY_SMTP_URL="ftp://user:hunter2@h")
    assert "hunter2" not in str(caught.value)
    assert "hunter2" not in repr(settings_with({"SLACK_BOT_TOKEN": "xoxb-hunter2"}))


def test_urls_are_redacted_for_printing() -> None:
    assert redact_url("redis://:s3cret@h:6379/0") == "redis://***@h:6379/0"
    assert redact_url("redis://127.0.0.1:6379/0") == "redis://127.0.0.1:6379/0"


def test_a_bad_digest_time_and_a_bad_operator_are_said_in_words_and_once() -> None:
    with pytest.raises(ConfigError) as at:
        load(DEPUTY_DIGEST_AT="25:00")
    assert "use HH:MM" in str(at.value) and "match pattern" not in str(at.value)
    with pytest.raises(ConfigError) as garbage:
        load(DEPUTY_OPERATORS="garbage")
    assert str(garbage.value).count("garbage") == 1, garbage.value


def test_job_retries_are_a_list_of_waits() -> None:
    from config.settings import load_settings

    assert load_settings(DEPUTY_JOB_RETRY_S="1, 5", _env_file=None).job_retries == (1, 5)
    assert load_settings(DEPUTY_JOB_RETRY_S="", _env_file=None).job_retries == ()
    assert load_settings(_env_file=None).job_retries == (2, 10, 30)
    with pytest.raises(ConfigError, match=r"DEPUTY_JOB_RETRY_S.*use e\.g\. 2,10,30"):
        load(DEPUTY_JOB_RETRY_S="soon")
