"""Invariant 7: secrets never reach logs, the ledger or chat. A whole run with every kind of secret
configured — including an SMTP login that fails — is searched for each of them."""

from __future__ import annotations

import http.server
import json
import logging
import threading
from pathlib import Path

from config.logs import Redactor, secrets_of
from config.settings import settings_with
from tests.conftest import Smtp, Workers, deputy, wait_for
from tests.e2e.helpers import proposal_id

SECRETS = {
    "SLACK_BOT_TOKEN": "xoxb-1111-secret-bot-token",
    "SLACK_SIGNING_SECRET": "signing-secret-8f3a9c",
    "TELEGRAM_BOT_TOKEN": "123456:telegram-secret-token",
    "DEPUTY_WEBHOOK_SECRET": "webhook-hmac-secret-77",
}
SMTP_PASSWORD = "Sup3r-Secret-Mail-Pw"
HOOK_SECRET = "inbound-hook-secret-42"


def test_a_full_run_leaks_no_secret(env: dict[str, str], tmp_path: Path, workers: Workers, smtp: Smtp) -> None:
    secret_env = {
        **env,
        **SECRETS,
        "DEPUTY_LOG_LEVEL": "INFO",
        "DEPUTY_SMTP_URL": f"smtp://sam:{SMTP_PASSWORD}@127.0.0.1:{smtp.port}",  # the test server has no AUTH
        "DEPUTY_HOOKS": f"site={HOOK_SECRET}",
    }
    workers.env = secret_env
    workers.start()
    asked = deputy("chat", env=secret_env, cwd=tmp_path, stdin="email jane@acme.com about invoice 42\n")
    pid = proposal_id(asked.stdout)
    approved = deputy("chat", env=secret_env, cwd=tmp_path, stdin=f"/approve {pid}\n")
    assert "Failed: the SMTP server offers no login" in approved.stdout  # the failure path ran, and said why
    outputs = [asked.stdout, asked.stderr, approved.stdout, approved.stderr]
    outputs += [
        deputy(cmd, *extra, env=secret_env, cwd=tmp_path).stdout
        for cmd, *extra in (("ledger", "--json"), ("doctor",), ("replay",))
    ]
    wait_for(lambda: "ActionFailed" in (tmp_path / "worker.log").read_text(), 10, "the worker's event log lines")
    outputs.append((tmp_path / "worker.log").read_text())
    everything = "\n".join(outputs)
    for secret in [*SECRETS.values(), SMTP_PASSWORD, HOOK_SECRET]:
        assert secret not in everything, f"a secret leaked: {secret[:6]}…"
    assert smtp.messages == []


def test_worker_logs_are_json_lines_with_ids(env: dict[str, str], tmp_path: Path, workers: Workers) -> None:
    workers.env = {**env, "DEPUTY_LOG_LEVEL": "INFO"}
    workers.start()
    deputy("chat", env=workers.env, cwd=tmp_path, stdin="/remember the wifi password is on the fridge\n")
    wait_for(lambda: "TaskReplied" in (tmp_path / "worker.log").read_text(), 10, "event log lines")
    lines = [json.loads(line) for line in (tmp_path / "worker.log").read_text().splitlines() if line.startswith("{")]
    replied = next(line for line in lines if line.get("event") == "TaskReplied")
    assert replied["task"].startswith("t") and replied["level"] == "info" and replied["logger"] == "deputy.ledger"


def test_the_redactor_masks_messages_and_tracebacks() -> None:
    settings = settings_with(
        {
            "DEPUTY_SMTP_URL": f"smtp://sam:{SMTP_PASSWORD}@h:25",
            "DEPUTY_EMAIL_FROM": "a@b.co",
            "DEPUTY_HOOKS": f"site={HOOK_SECRET}",
            **SECRETS,
        }
    )
    redactor = Redactor(secrets_of(settings))
    try:
        raise RuntimeError(f"login failed with {SMTP_PASSWORD}")
    except RuntimeError:
        record = logging.LogRecord(
            "x",
            logging.ERROR,
            __file__,
            1,
            "token %s",
            (SECRETS["SLACK_BOT_TOKEN"],),
            exc_info=__import__("sys").exc_info(),
        )
    redactor.filter(record)
    assert record.getMessage() == "token ***"
    assert record.exc_text and SMTP_PASSWORD not in record.exc_text and "login failed with ***" in record.exc_text


class _Receiver(http.server.BaseHTTPRequestHandler):
    def do_POST(self) -> None:  # http.server's name
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.send_response(200)
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass


URL_PASSWORDS = {
    "DEPUTY_WEBHOOKS": "crm-url-PASSWORD-f5",
    "DEPUTY_SMTP_URL": "smtp-url-PASSWORD-a1",
    "DEPUTY_LLM_API_BASE": "llm-url-PASSWORD-b2",
    "DEPUTY_WEAVIATE_URL": "weaviate-url-PASSWORD-c3",
    "DEPUTY_IMAP_URL": "imap-url-PASSWORD-d4",
}


def test_a_password_in_every_configured_url_is_never_shown(
    env: dict[str, str], tmp_path: Path, workers: Workers, smtp: Smtp
) -> None:
    """A webhook post is staged, approved and applied; the card, the outcome, the ledger, the worker's log and
    every command's output are searched for each URL's password."""
    server = http.server.HTTPServer(("127.0.0.1", 0), _Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    pw = URL_PASSWORDS
    secret_env = {
        **env,
        "DEPUTY_LOG_LEVEL": "INFO",
        "DEPUTY_WEBHOOKS": f"crm=http://crmuser:{pw['DEPUTY_WEBHOOKS']}@127.0.0.1:{server.server_port}/crm",
        "DEPUTY_SMTP_URL": f"smtp://sam:{pw['DEPUTY_SMTP_URL']}@127.0.0.1:{smtp.port}",
        "DEPUTY_LLM_API_BASE": f"http://llm:{pw['DEPUTY_LLM_API_BASE']}@127.0.0.1:9/v1",
        "DEPUTY_WEAVIATE_URL": f"http://w:{pw['DEPUTY_WEAVIATE_URL']}@127.0.0.1:9",
        "DEPUTY_IMAP_URL": f"imap://me%40example.com:{pw['DEPUTY_IMAP_URL']}@127.0.0.1:9/INBOX",  # doctor: FIX
    }
    try:
        workers.env = secret_env
        workers.start()
        asked = deputy("chat", env=secret_env, cwd=tmp_path, stdin="post hello to crm\n")
        pid = proposal_id(asked.stdout)
        approved = deputy("chat", env=secret_env, cwd=tmp_path, stdin=f"/approve {pid}\n")
        assert "Posted to webhook crm" in approved.stdout and "127.0.0.1" in asked.stdout
        outputs = [asked.stdout, asked.stderr, approved.stdout, approved.stderr]
        outputs += [
            deputy(cmd, *extra, env=secret_env, cwd=tmp_path).stdout
            for cmd, *extra in (("ledger",), ("ledger", "--json"), ("doctor",), ("status",))
        ]
        bad = {**secret_env, "DEPUTY_WEBHOOKS": f"crm=ftp://crmuser:{pw['DEPUTY_WEBHOOKS']}@127.0.0.1/crm"}
        outputs.append(deputy("ledger", env=bad, cwd=tmp_path).stderr)
        wait_for(lambda: "TaskDone" in (tmp_path / "worker.log").read_text(), 10, "the worker's event log lines")
        outputs.append((tmp_path / "worker.log").read_text())
    finally:
        server.shutdown()
    everything = "\n".join(outputs)
    for name, secret in pw.items():
        assert secret not in everything, f"the password in {name} leaked"


def test_every_password_inside_a_configured_url_is_a_secret_to_mask() -> None:
    settings = settings_with(
        {
            "REDIS_URL": "redis://:redis-url-PASSWORD@127.0.0.1:6379/0",
            "DEPUTY_WEBHOOKS": "a=https://u:first-PASSWORD@h/x, b=https://v:second-PASSWORD@h:8443/y",
            "DEPUTY_LLM_API_BASE": "http://llm:llm-url-PASSWORD@127.0.0.1:8000/v1",
        }
    )
    found = set(secrets_of(settings))
    assert {"redis-url-PASSWORD", "first-PASSWORD", "second-PASSWORD", "llm-url-PASSWORD"} <= found
