"""The core imports no framework (ARCHITECTURE.md): checked on the source, so a lazy import can't hide."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FORBIDDEN = {
    "slack_bolt",
    "slack_sdk",
    "telegram",
    "aiohttp",
    "redis",
    "rq",
    "litellm",
    "weaviate",
    "pydantic",
    "pydantic_settings",
}
ADAPTERS = {"bot", "agents", "memory", "connectors", "config"}


def imported(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def test_orchestrator_imports_no_framework_and_no_adapter() -> None:
    offenders = {
        str(path.relative_to(ROOT)): sorted(imported(path) & (FORBIDDEN | ADAPTERS))
        for path in (ROOT / "orchestrator").rglob("*.py")
        if imported(path) & (FORBIDDEN | ADAPTERS)
    }
    assert offenders == {}


def test_the_check_would_catch_an_import(tmp_path: Path) -> None:
    sample = tmp_path / "x.py"
    sample.write_text("def f():\n    import redis.asyncio\n")
    assert "redis" in imported(sample)
