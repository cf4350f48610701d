"""The shape a newcomer should find (docs/architecture.md), checked on the source so a lazy import can't hide:
every import from one folder into another is one the folder table in docs/architecture.md allows (its "may
import" column, read from the doc: the table is the one source); the core imports no framework and no
adapter; nothing below bot/ imports bot/; no two modules import each other, directly or round a longer loop
(imports inside functions and under TYPE_CHECKING count); no module is over 400 lines; the chat words are
declared in one module."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "architecture.md"
PACKAGES = ("bot", "agents", "orchestrator", "memory", "connectors", "config")
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
BELOW_BOT = ("agents", "connectors", "memory")
MAX_LINES = 400
VERBS = {"approve", "reject", "undo", "edit", "status", "remember", "recall", "forget", "digest", "budget", "help"}


def imported(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def targets(path: Path) -> Iterator[str]:
    """Every module an import statement names (`from a import b` names both a and a.b; relative ones too)."""
    package = list(path.relative_to(ROOT).parent.parts)
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else []
            module = ".".join([*base, *([node.module] if node.module else [])])
            yield module
            yield from (f"{module}.{alias.name}" for alias in node.names)


def edges() -> dict[str, set[str]]:
    known = modules()
    graph: dict[str, set[str]] = {name: set() for name in known}
    for name, path in known.items():
        for target in targets(path):
            while target and target not in known:
                target = target.rpartition(".")[0]
            if target and target != name:
                graph[name].add(target)
    return graph


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while (w := stack.pop()) != v:
                component.append(w)
            if component:
                found.append(sorted([v, *component]))

    for v in graph:
        if v not in index:
            visit(v)
    return found


def layer_table(text: str) -> dict[str, set[str]]:
    """The folder table's "may import" column: `everything`, `the standard library only`, or folder names."""
    allowed: dict[str, set[str]] = {}
    for line in text.splitlines():
        row = re.fullmatch(r"\| `(\w+)/` \|.*\| ([^|]+) \|", line.strip())
        if row and row[1] in PACKAGES:
            cell = row[2].strip()
            names = set(PACKAGES) if cell == "everything" else set(re.findall(r"\w+", cell)) & set(PACKAGES)
            allowed[row[1]] = names - {row[1]}
    return allowed


def cross_imports(graph: dict[str, set[str]]) -> Iterator[tuple[str, str, str]]:
    """(folder, imported folder, the import) for every import that leaves its folder."""
    for name, targets_ in graph.items():
        for target in targets_:
            here, there = name.split(".")[0], target.split(".")[0]
            if here != there:
                yield here, there, f"{name} -> {target}"


def forbidden(graph: dict[str, set[str]], allowed: dict[str, set[str]]) -> list[str]:
    return sorted(edge for here, there, edge in cross_imports(graph) if there not in allowed[here])


def test_every_import_across_folders_is_one_the_layer_table_allows() -> None:
    allowed = layer_table(DOC.read_text())
    assert set(allowed) == set(PACKAGES), "docs/architecture.md's folder table names every folder"
    assert forbidden(edges(), allowed) == []


def test_the_layer_table_is_strict_layers() -> None:
    """Each folder may import only folders that may import fewer: one direction, no loop possible."""
    allowed = layer_table(DOC.read_text())
    assert all(len(allowed[there]) < len(allowed[here]) for here in allowed for there in allowed[here])


def test_orchestrator_imports_no_framework_and_no_adapter() -> None:
    offenders = {
        str(path.relative_to(ROOT)): sorted(imported(path) & (FORBIDDEN | ADAPTERS))
        for path in (ROOT / "orchestrator").rglob("*.py")
        if imported(path) & (FORBIDDEN | ADAPTERS)
    }
    assert offenders == {}


def test_nothing_below_bot_imports_bot() -> None:
    offenders = [name for name, path in modules().items() if name.startswith(BELOW_BOT) and "bot" in imported(path)]
    assert offenders == []


def test_no_import_circles() -> None:
    assert circles(edges()) == []


def test_no_module_is_over_400_lines() -> None:
    sizes = {name: len(path.read_text().splitlines()) for name, path in modules().items()}
    assert {name: n for name, n in sizes.items() if n > MAX_LINES} == {}


def test_the_chat_words_are_declared_in_one_module() -> None:
    def spelled(path: Path) -> set[str]:
        constants = (n.value for n in ast.walk(ast.parse(path.read_text())) if isinstance(n, ast.Constant))
        return {c.lstrip("/") for c in constants if isinstance(c, str)} & VERBS

    holders = [name for name, path in modules().items() if len(spelled(path)) >= 8]
    assert holders == ["orchestrator.words"]


def test_the_checks_would_catch_what_they_look_for(tmp_path: Path) -> None:
    sample = tmp_path / "x.py"
    sample.write_text("def f():\n    import redis.asyncio\n")
    assert "redis" in imported(sample)
    relative = ROOT / "memory" / "store.py"
    assert all(not name.startswith(".") for name in targets(relative))
    assert circles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    table = "| `memory/` | stores | orchestrator, config |\n| `config/` | settings | orchestrator |"
    allowed = {"memory": {"orchestrator", "config"}, "config": {"orchestrator"}}
    assert layer_table(table) == allowed
    graph = {"config.settings": {"memory.store"}, "memory.store": {"config.settings", "orchestrator.model"}}
    assert forbidden(graph, allowed) == ["config.settings -> memory.store"]
