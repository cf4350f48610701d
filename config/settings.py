"""Deputy's settings, read once at start from the environment and `.env` (every name in docs/reference.md).
A wrong value stops Deputy with one line naming the variable and how to fix it."""

from __future__ import annotations

import re
from functools import cached_property
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from redis.connection import parse_url

from config.prices import parse_prices
from orchestrator.errors import ConfigError
from orchestrator.model import ChatRef

_PLATFORM = r"[a-z][a-z0-9_\-]*"
"""A channel's name (`slack`, `telegram`, a plug-in's): which channels exist is the registry's to say
(bot/channels.py), so a plug-in channel needs no edit here; `deputy doctor` names one that is not installed."""
_OPERATOR = re.compile(rf"^{_PLATFORM}:[A-Za-z0-9_\-]+$")
_MODULE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore", populate_by_name=False)

    redis_url: str | None = Field(None, validation_alias="REDIS_URL")
    data_dir: Path = Field(Path(".deputy"), validation_alias="DEPUTY_DATA_DIR")
    host: str = Field("127.0.0.1", validation_alias="DEPUTY_HOST")
    port: int = Field(8080, ge=0, le=65535, validation_alias="DEPUTY_PORT")

    slack_bot_token: SecretStr | None = Field(None, validation_alias="SLACK_BOT_TOKEN")
    slack_signing_secret: SecretStr | None = Field(None, validation_alias="SLACK_SIGNING_SECRET")
    slack_app_token: SecretStr | None = Field(None, validation_alias="SLACK_APP_TOKEN")
    slack_api_url: str = Field("https://slack.com/api/", validation_alias="DEPUTY_SLACK_API_URL")
    telegram_bot_token: SecretStr | None = Field(None, validation_alias="TELEGRAM_BOT_TOKEN")
    telegram_mode: Literal["polling", "webhook"] = Field("polling", validation_alias="DEPUTY_TELEGRAM_MODE")
    telegram_webhook_secret: SecretStr | None = Field(None, validation_alias="DEPUTY_TELEGRAM_WEBHOOK_SECRET")
    telegram_api_url: str = Field("https://api.telegram.org/bot", validation_alias="DEPUTY_TELEGRAM_API_URL")
    operators_raw: str = Field("", validation_alias="DEPUTY_OPERATORS")
    public_url: str | None = Field(None, validation_alias="DEPUTY_PUBLIC_URL")

    llm_model: str = Field("offline", validation_alias="DEPUTY_LLM_MODEL")
    llm_verify_model: str | None = Field(None, validation_alias="DEPUTY_LLM_VERIFY_MODEL")
    llm_api_base: str | None = Field(None, validation_alias="DEPUTY_LLM_API_BASE")
    llm_fallback_model: str | None = Field(None, validation_alias="DEPUTY_LLM_FALLBACK_MODEL")
    llm_prices: str = Field("", validation_alias="DEPUTY_LLM_PRICES")
    llm_structured: Literal["auto", "on", "off"] = Field("auto", validation_alias="DEPUTY_LLM_STRUCTURED")
    llm_timeout_s: float | None = Field(None, gt=0, le=3600, validation_alias="DEPUTY_LLM_TIMEOUT_S")
    """None: 60 s for a hosted provider, 300 s for a server of the operator's own (agents/transports.py)."""
    llm_retries: int | None = Field(None, ge=0, le=10, validation_alias="DEPUTY_LLM_RETRIES")
    daily_budget_usd: float = Field(5.0, ge=0, validation_alias="DEPUTY_DAILY_BUDGET_USD")
    offline_latency_ms: int = Field(0, ge=0, le=600_000, validation_alias="DEPUTY_OFFLINE_LATENCY_MS")
    job_timeout_s: int = Field(600, ge=1, le=86_400, validation_alias="DEPUTY_JOB_TIMEOUT_S")
    job_retry_s: str = Field("2,10,30", validation_alias="DEPUTY_JOB_RETRY_S")
    fault_exit_after: str = Field("", validation_alias="DEPUTY_FAULT_EXIT_AFTER")
    """Fault drills only (memory/faults.py reads it from the environment of each process)."""
    worker_max_jobs: int = Field(1000, ge=1, validation_alias="DEPUTY_WORKER_MAX_JOBS")
    worker_max_mb: int = Field(1024, ge=64, validation_alias="DEPUTY_WORKER_MAX_MB")

    smtp_url: SecretStr | None = Field(None, validation_alias="DEPUTY_SMTP_URL")
    email_from: str | None = Field(None, validation_alias="DEPUTY_EMAIL_FROM")
    imap_url: SecretStr | None = Field(None, validation_alias="DEPUTY_IMAP_URL")
    imap_since: str = Field(
        "3d", pattern=r"^\s*(\d+\s*[dhwDHW]|\d{4}-\d{2}-\d{2})\s*$", validation_alias="DEPUTY_IMAP_SINCE"
    )
    imap_archive: str = Field("Archive", min_length=1, max_length=200, validation_alias="DEPUTY_IMAP_ARCHIVE")
    webhooks: str = Field("", validation_alias="DEPUTY_WEBHOOKS")
    caldav_url: SecretStr | None = Field(None, validation_alias="DEPUTY_CALDAV_URL")
    webhook_secret: SecretStr | None = Field(None, validation_alias="DEPUTY_WEBHOOK_SECRET")
    hooks: str = Field("", validation_alias="DEPUTY_HOOKS")
    undo_seconds: int = Field(20, ge=0, validation_alias="DEPUTY_UNDO_SECONDS")
    digest_channel: str | None = Field(
        None, pattern=rf"^(console|{_PLATFORM}:[A-Za-z0-9_\-]+)$", validation_alias="DEPUTY_DIGEST_CHANNEL"
    )
    digest_at: str = Field("08:00", validation_alias="DEPUTY_DIGEST_AT")
    timezone: str = Field("UTC", validation_alias="DEPUTY_TIMEZONE")
    embedding_model: str = Field("offline", validation_alias="DEPUTY_EMBEDDING_MODEL")
    memory_backend: Literal["local", "weaviate"] = Field("local", validation_alias="DEPUTY_MEMORY_BACKEND")
    weaviate_url: str | None = Field(None, validation_alias="DEPUTY_WEAVIATE_URL")
    weaviate_grpc_port: int = Field(50051, validation_alias="DEPUTY_WEAVIATE_GRPC_PORT")
    log_level: str | None = Field(None, validation_alias="DEPUTY_LOG_LEVEL")
    plugins_raw: str = Field("", validation_alias="DEPUTY_PLUGINS")

    @field_validator("redis_url")
    @classmethod
    def _redis(cls, value: str | None) -> str | None:
        """Parsed the way redis-py will parse it, so a malformed URL stops Deputy here, not at the first command."""
        try:
            if value:
                parse_url(value)  # type: ignore[no-untyped-call]  # redis-py leaves it unannotated
        except ValueError as err:
            raise ValueError(f"{err}; use e.g. redis://localhost:6379/0 (rediss:// for TLS)") from None
        return value

    @field_validator("log_level")
    @classmethod
    def _level(cls, value: str | None) -> str | None:
        if value and value.strip().upper() not in LOG_LEVELS:
            raise ValueError(f"{value!r} is not a log level; use one of {', '.join(LOG_LEVELS)}")
        return value.strip().upper() if value else None

    @field_validator("digest_at")
    @classmethod
    def _time_of_day(cls, value: str) -> str:
        if not re.fullmatch(r"([01]\d|2[0-3]):[0-5]\d", value.strip()):
            raise ValueError(f"{value!r} is not a time of day; use HH:MM from 00:00 to 23:59, e.g. 08:00")
        return value.strip()

    @field_validator("operators_raw")
    @classmethod
    def _operators(cls, value: str) -> str:
        for item in _items(value):
            if not _OPERATOR.match(item):
                raise ValueError(f"{item!r} is not platform:id; use e.g. slack:U0123ABC or telegram:123456789")
        return value

    @field_validator("job_retry_s")
    @classmethod
    def _retries(cls, value: str) -> str:
        if not re.fullmatch(r"(\d{1,5}(,\d{1,5}){0,9})?", value.replace(" ", "")):
            raise ValueError(f"{value!r} is not a list of waits in seconds; use e.g. 2,10,30 (empty: no retries)")
        return value

    @property
    def job_retries(self) -> tuple[int, ...]:
        """The waits before each retry of a failed job (DEPUTY_JOB_RETRY_S): as many retries as waits."""
        return tuple(int(item) for item in _items(self.job_retry_s))

    @field_validator("plugins_raw")
    @classmethod
    def _plugins(cls, value: str) -> str:
        for item in _items(value):
            if not _MODULE.match(item):
                raise ValueError(f"{item!r} is not a module name; use e.g. deputy_discord or mycompany.deputy.fax")
        return value

    @field_validator("webhooks", "hooks")
    @classmethod
    def _named(cls, value: str) -> str:
        for item in _items(value):
            name, sep, rest = item.partition("=")
            if not sep or not re.fullmatch(r"[A-Za-z0-9_\-]+", name.strip()) or not rest.strip():
                shown = f"{name.strip()[:40]!r}" if sep else "an entry"  # never the value: it may be a secret
                raise ValueError(f"{shown} is not name=value (names: letters, digits, - and _)")
        return value

    @field_validator("llm_prices")
    @classmethod
    def _prices(cls, value: str) -> str:
        parse_prices(value)
        return value

    @field_validator("webhooks")
    @classmethod
    def _webhook_urls(cls, value: str) -> str:
        for item in _items(value):
            name, _, url = (part.strip() for part in item.partition("="))
            if urlsplit(url).scheme not in ("http", "https") or not urlsplit(url).netloc:
                shown = f"{name}={redact_url(url)}"
                raise ValueError(f"{shown!r}: the URL must start with https:// (or http:// on a private network)")
            _port_of(url)
        return value

    @field_validator("smtp_url")
    @classmethod
    def _smtp(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and urlsplit(value.get_secret_value()).scheme not in ("smtp", "smtps"):
            raise ValueError("must look like smtp://user:pass@host:587?starttls=1 or smtps://user:pass@host:465")
        if value is not None:
            _port_of(value.get_secret_value())
        return value

    @field_validator("caldav_url")
    @classmethod
    def _caldav(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and urlsplit(value.get_secret_value()).scheme not in ("http", "https"):
            raise ValueError("must look like https://user:password@host/…/calendar/ (the calendar collection)")
        if value is not None:
            _port_of(value.get_secret_value())
        return value

    @field_validator("imap_url")
    @classmethod
    def _imap(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and urlsplit(value.get_secret_value()).scheme not in ("imap", "imaps"):
            raise ValueError("must look like imaps://user:password@host:993/INBOX or imap://…:143/INBOX?starttls=1")
        if value is not None:
            _port_of(value.get_secret_value())
        return value

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"{value!r} is not an IANA time zone; use e.g. Europe/Berlin or UTC") from None
        return value

    @model_validator(mode="after")
    def _pairs(self) -> Settings:
        if self.smtp_url and not self.email_from:
            raise ValueError(
                "DEPUTY_EMAIL_FROM is required with DEPUTY_SMTP_URL (e.g. DEPUTY_EMAIL_FROM=you@example.com)"
            )
        if self.telegram_mode == "webhook" and self.telegram_bot_token and not self.telegram_webhook_secret:
            raise ValueError("DEPUTY_TELEGRAM_WEBHOOK_SECRET is required with DEPUTY_TELEGRAM_MODE=webhook")
        return self

    @cached_property
    def operators(self) -> frozenset[str]:
        return frozenset(_items(self.operators_raw))

    @cached_property
    def hook_secrets(self) -> dict[str, str]:
        return {name.strip(): secret.strip() for name, _, secret in (i.partition("=") for i in _items(self.hooks))}

    @property
    def report_chat(self) -> ChatRef:
        """Where the digest and work no chat started (inbound webhooks, notices) go: DEPUTY_DIGEST_CHANNEL, else
        the first operator's DM, else the console."""
        if self.digest_channel:
            platform, _, chat = self.digest_channel.partition(":")
            return ChatRef(platform, chat) if chat else ChatRef("console", "local")
        return next(iter(self.operator_chats), ChatRef("console", "local"))

    @property
    def operator_chats(self) -> list[ChatRef]:
        """Each operator's DM with the bot, in the order DEPUTY_OPERATORS lists them (a Slack user id or a
        Telegram user id works as the chat id of their DM)."""
        return [ChatRef(*item.split(":", 1)) for item in _items(self.operators_raw)]

    @property
    def plugins(self) -> tuple[str, ...]:
        """The plug-in modules DEPUTY_PLUGINS names, in its order (config/plugins.py loads them)."""
        return tuple(_items(self.plugins_raw))

    @property
    def verify_model(self) -> str:
        return self.llm_verify_model or self.llm_model


def _port_of(url: str) -> int | None:
    """The URL's port, or a one-line error: urllib raises a bare "Port out of range" from deep inside a command."""
    try:
        return urlsplit(url).port
    except ValueError:
        raise ValueError(f"{redact_url(url)}: the port must be a number from 1 to 65535") from None


def redact_url(url: str) -> str:
    """A URL fit to print: credentials replaced by ***, even in a URL too malformed to connect with."""
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url
    return parts._replace(netloc="***@" + parts.netloc.rpartition("@")[2]).geturl()


def _items(value: str) -> list[str]:
    return [part.strip() for part in value.split(",") if part.strip()]


def settings_with(values: dict[str, str]) -> Settings:
    """Settings from explicit CONTRACT names (e.g. {"REDIS_URL": …}) and no .env file: tests and benchmarks."""
    fields: dict[str, Any] = {**values, "_env_file": None}  # `_env_file` is pydantic-settings' init-only option
    return Settings(**fields)


def load_settings(**overrides: Any) -> Settings:
    """Settings from the environment, or `ConfigError` with one line naming the variable and the fix."""
    try:
        return Settings(**overrides)
    except ValidationError as err:
        raise ConfigError(describe(err)) from None


def describe(err: ValidationError) -> str:
    first = err.errors()[0]
    loc = first["loc"]
    name = _env_name(loc)
    message = first["msg"].removeprefix("Value error, ")
    prefix = f"{name}: " if name else ""
    echo = _echo(loc, first.get("input"))
    said = repr(first.get("input")) in message  # the message names the value already: once is enough
    return f"configuration error: {prefix}{message}{'' if said else echo}"


HOLDS_SECRETS = frozenset({"hooks", "webhooks"})
"""Settings whose values carry secrets (hook keys, webhook URLs with tokens in them): never echoed."""


def _echo(loc: tuple[Any, ...], value: Any) -> str:
    """The offending value, unless it is or holds a secret; credentials inside a URL are masked."""
    name, field = _field(loc)
    if value is None or isinstance(value, dict) or name in HOLDS_SECRETS:
        return ""
    if field and "SecretStr" in str(field.annotation):
        return ""
    return f" (got {redact_url(str(value))!r})"


def _field(loc: tuple[Any, ...]) -> tuple[str, Any]:
    """A validation error's field, whether pydantic names it by the field or by its environment variable."""
    key = str(loc[0]) if loc else ""
    for name, field in Settings.model_fields.items():
        if key in (name, field.validation_alias):
            return name, field
    return key, None


def _env_name(loc: tuple[Any, ...]) -> str:
    if not loc:
        return ""
    _, field = _field(loc)
    alias = field.validation_alias if field else None
    return str(alias) if isinstance(alias, str) else str(loc[0])
