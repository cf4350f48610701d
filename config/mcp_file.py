"""`DEPUTY_DATA_DIR/mcp.yaml`: the MCP servers Deputy connects to and each tool's policy. Data and its validation
only; connectors/mcp.py connects. The file is

    servers:
      <name>: {command: [argv…], env: {…}, timeout: <s>}      # a stdio server Deputy starts
      <name>: {url: <streamable HTTP URL>, headers: {…}, timeout: <s>}
    tools:
      "<server>/<tool>": allow | ask | deny                     # "<server>/*" for every tool of a server

A tool with no entry is `allow` when its server marks it read-only (it may be called while drafting), else `ask`
(the model may only propose it, on a card). A mistake stops Deputy at start with one line naming the entry."""

from __future__ import annotations

import re
from fnmatch import fnmatchcase
from functools import cache
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from config import yaml_text
from orchestrator.errors import ConfigError

Policy = Literal["allow", "ask", "deny"]
NAME = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"


class Server(BaseModel):
    model_config = ConfigDict(extra="forbid")

    command: list[str] = []
    env: dict[str, str] = {}
    url: str = ""
    headers: dict[str, str] = {}
    timeout: float = Field(60.0, gt=0, le=3600)
    """One tool call's deadline, in seconds (also capped by half of DEPUTY_JOB_TIMEOUT_S)."""

    @model_validator(mode="after")
    def _one_way(self) -> Server:
        if bool(self.command) == bool(self.url):
            raise ValueError("give either command: [argv…] (stdio) or url: (streamable HTTP), not both")
        if self.url and not self.url.startswith(("http://", "https://")):
            raise ValueError("url must start with http:// or https://")
        return self

    @property
    def where(self) -> str:
        """The server in words for cards and doctor: its command's program, or its URL without credentials."""
        if self.command:
            return Path(self.command[0]).name
        return self.url.split("@")[-1] if "@" in self.url.split("//", 1)[-1].split("/")[0] else self.url


class McpFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    servers: dict[str, Server] = {}
    tools: dict[str, Policy] = {}

    @model_validator(mode="after")
    def _named(self) -> McpFile:
        for name in self.servers:
            if not re.match(NAME, name) or "/" in name:
                raise ValueError(f"server name {name!r}: letters, digits, '_', '.', '-' only")
        for key in self.tools:
            server = key.partition("/")[0]
            if "/" not in key or server not in self.servers:
                raise ValueError(f"tools: {key!r} names no configured server (write '<server>/<tool>')")
        return self

    def policy(self, tool: str, read_only: bool) -> Policy:
        """The policy of `<server>/<tool>`: its own entry, else its server's `<server>/*`, else the default."""
        if tool in self.tools:
            return self.tools[tool]
        for pattern, policy in self.tools.items():
            if fnmatchcase(tool, pattern):
                return policy
        return "allow" if read_only else "ask"


def mcp_path(data_dir: Path) -> Path:
    return data_dir / "mcp.yaml"


def read(path: Path) -> McpFile:
    """The file as it is now (an empty one where there is none); read again when it changes."""
    try:
        stamp = path.stat().st_mtime_ns
    except FileNotFoundError:
        return McpFile()
    return _read(path, stamp)


@cache
def _read(path: Path, stamp: int) -> McpFile:
    try:
        raw: Any = yaml_text.parse(path.read_text(encoding="utf-8")) or {}
        return McpFile.model_validate(raw)
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as err:
        raise ConfigError(f"{path}: can't read it ({type(err).__name__}); fix or remove it.") from None
    except ValidationError as err:
        first = err.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "the file"
        raise ConfigError(f"{path}: {where}: {first['msg']}") from None
