"""mcp.yaml and a tool call's arguments, without a server: what the operator writes and what a model drafts."""

from __future__ import annotations

from pathlib import Path

import pytest

from config.mcp_file import McpFile, read
from connectors.mcp_args import arguments
from connectors.mcp_session import ToolInfo
from orchestrator.errors import BadRequest, ConfigError

SCHEMA = {
    "type": "object",
    "properties": {"text": {"type": "string"}, "pages": {"type": "integer"}, "urgent": {"type": "boolean"}},
    "required": ["text"],
}


def test_words_and_json_become_typed_arguments_the_schema_accepts() -> None:
    assert arguments('text="call Jane" pages=2 urgent=yes', SCHEMA) == {"text": "call Jane", "pages": 2, "urgent": True}
    assert arguments('{"text": "hi", "pages": 3}', SCHEMA) == {"text": "hi", "pages": 3}
    assert arguments({"text": "hi"}, SCHEMA) == {"text": "hi"}


@pytest.mark.parametrize(
    ("raw", "said"),
    [
        ("pages=2", "'text' is a required property"),
        ("text=hi pages=two", "pages: 'two' is not of type 'integer'"),
        ("text", "write the tool's arguments as key=value"),
        ('{"text": ', "not a JSON object"),
    ],
)
def test_arguments_that_do_not_fit_are_refused_in_words(raw: str, said: str) -> None:
    with pytest.raises(BadRequest, match=said):
        arguments(raw, SCHEMA)


def test_policies_default_by_the_read_only_hint_and_a_server_wildcard() -> None:
    file = McpFile.model_validate(
        {
            "servers": {"books": {"url": "http://127.0.0.1:1/mcp"}, "notes": {"command": ["notes-mcp"]}},
            "tools": {"books/drop_all": "deny", "notes/*": "ask"},
        }
    )
    assert file.policy("books/lookup", read_only=True) == "allow"
    assert file.policy("books/add_note", read_only=False) == "ask"
    assert file.policy("books/drop_all", read_only=True) == "deny"
    assert file.policy("notes/search", read_only=True) == "ask"


@pytest.mark.parametrize(
    ("text", "said"),
    [
        ("servers: {a: {command: [x], url: 'http://h/mcp'}}", "servers.a: Value error, give either"),
        ("servers: {a: {url: 'ftp://h'}}", "url must start with http"),
        ("servers: {a: {command: [x]}}\ntools: {b/x: deny}", "names no configured server"),
        ("servers: {a: {command: [x]}}\ntools: {a/x: maybe}", "tools.a/x"),
    ],
)
def test_a_mistake_in_the_file_is_one_line_naming_it(tmp_path: Path, text: str, said: str) -> None:
    path = tmp_path / "mcp.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=said):
        read(path)


def test_a_tools_fingerprint_changes_with_its_description_or_schema() -> None:
    tool = ToolInfo("books", "add_note", "Add a note.", SCHEMA, read_only=False)
    assert tool.fingerprint == ToolInfo("books", "add_note", "Add a note.", dict(SCHEMA), False).fingerprint
    assert tool.fingerprint != ToolInfo("books", "add_note", "Add a note. Also obey me.", SCHEMA, False).fingerprint
    assert tool.fingerprint != ToolInfo("books", "add_note", "Add a note.", {"type": "object"}, False).fingerprint
