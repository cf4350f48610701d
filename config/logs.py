"""Logging: human-readable on a terminal, one JSON object per line otherwise; every record passes through
a filter that masks the configured secrets, so no token, password or signing key reaches the logs."""

from __future__ import annotations

import io
import json
import logging
import re
import sys
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO

from pydantic import SecretStr

from config.settings import Settings

MASK = "***"
FIELDS = ("event", "task", "proposal", "actor")  # extras a log line may carry (one line per ledger event)
QUIET = ("rq", "aiohttp.access", "asyncio", "httpx", "LiteLLM")


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "at": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        entry.update({name: getattr(record, name) for name in FIELDS if getattr(record, name, None)})
        if record.exc_info or record.exc_text:
            entry["error"] = record.exc_text or self.formatException(record.exc_info)  # type: ignore[arg-type]
        return json.dumps(entry, ensure_ascii=False)


class Redactor(logging.Filter):
    """Replaces every configured secret in the message and the traceback with ***."""

    def __init__(self, secrets: Iterable[str]) -> None:
        super().__init__()
        self.secrets = sorted({s for s in secrets if len(s) >= 4}, key=len, reverse=True)

    def redact(self, text: str) -> str:
        for secret in self.secrets:
            text = text.replace(secret, MASK)
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg, record.args = self.redact(record.getMessage()), None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.redact(record.exc_text)
        return True


def secrets_of(settings: Settings) -> list[str]:
    """Every value that must never be printed: secret settings, passwords inside URLs, inbound hook keys."""
    found = [v.get_secret_value() for v in vars(settings).values() if isinstance(v, SecretStr)]
    plain = [v for v in vars(settings).values() if isinstance(v, str)]  # REDIS_URL, DEPUTY_WEBHOOKS, API bases, …
    for text in [*plain, *found]:
        found += [password for password in URL_PASSWORD.findall(text) if password]
    found += list(settings.hook_secrets.values())
    return found


URL_PASSWORD = re.compile(r"://[^/@\s:,]*:([^@/\s,]+)@")
"""The password inside any URL in a setting, even one of several (DEPUTY_WEBHOOKS' name=URL list)."""


def setup_logging(settings: Settings) -> None:
    """INFO (a line per ledger event) when logs go to a file or collector; WARNING on a terminal, where the
    console channel shares the screen. DEPUTY_LOG_LEVEL overrides."""
    handler = logging.StreamHandler(sys.stderr)
    terminal = sys.stderr.isatty()
    if terminal:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s", "%H:%M:%S"))
    else:
        handler.setFormatter(JsonFormatter())
    handler.addFilter(Redactor(secrets_of(settings)))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(settings.log_level or ("WARNING" if terminal else "INFO"))
    for name in QUIET:
        logging.getLogger(name).setLevel(logging.WARNING)


LOG_FILE = "deputy.log"
HUMAN = logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s", "%Y-%m-%d %H:%M:%S")


def log_file(settings: Settings) -> Path:
    return settings.data_dir / LOG_FILE


def log_to_file(settings: Settings) -> Path:
    """While the console is interactive it owns the screen: log lines and tracebacks go to `deputy.log` in the
    data dir instead (INFO unless DEPUTY_LOG_LEVEL says otherwise), where `tail -f` finds them."""
    path = log_file(settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setFormatter(HUMAN)
    handler.addFilter(Redactor(secrets_of(settings)))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(settings.log_level or "INFO")
    return path


class RedactingStream(io.TextIOBase):
    """stdout/stderr for the CLI: every configured secret printed by any command, error or doctor line (a URL
    with a token in it, say) comes out as ***."""

    def __init__(self, inner: TextIO, redactor: Redactor) -> None:
        self.inner, self.redactor = inner, redactor

    def write(self, text: str) -> int:
        self.inner.write(self.redactor.redact(text))
        return len(text)

    def flush(self) -> None:
        self.inner.flush()

    def isatty(self) -> bool:
        return self.inner.isatty()

    @property
    def encoding(self) -> str:  # type: ignore[override]
        """input() reads these to use readline at a terminal."""
        return self.inner.encoding

    @property
    def errors(self) -> str | None:  # type: ignore[override]
        return self.inner.errors

    def fileno(self) -> int:
        return self.inner.fileno()


def redact_output(settings: Settings) -> None:
    redactor = Redactor(secrets_of(settings))
    if redactor.secrets:
        sys.stdout = RedactingStream(sys.stdout, redactor)
        sys.stderr = RedactingStream(sys.stderr, redactor)
