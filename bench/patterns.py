"""Every module-level regular expression in Deputy's packages against hostile text of 8,000 characters (the most a
task's text keeps): a long word, a long number, dotted and colon-separated runs, many `@`s. A pattern that
backtracks over the rest of a run from each position in it is quadratic and stalls the event loop (four did: 0.16
to 0.63 s per call). The baseline is `\\w+` over the same text in the same run; the figure is each pattern's worst
time as a multiple of it. Run: `python -m bench.patterns`."""

from __future__ import annotations

import importlib
import pkgutil
import re
import time
from collections.abc import Iterator

PACKAGES = ("orchestrator", "config", "memory", "connectors", "agents", "bot")
SIZE = 8000
HOSTILE = {
    "word": "a" * SIZE,
    "number": "1" * SIZE,
    "number then @": "1" * (SIZE - 1) + "@",
    "dotted": "a." * (SIZE // 2),
    "colons": "a:" * (SIZE // 2),
    "spaces": "a " * (SIZE // 2),
    "at signs": ("x@" * 10 + "y.com ") * (SIZE // 26),
    "slashes": "x:/" * (SIZE // 3),
}
BASELINE = re.compile(r"\w+")


def patterns() -> Iterator[tuple[str, re.Pattern[str]]]:
    seen: set[int] = set()
    for package in PACKAGES:
        root = importlib.import_module(package)
        for found in pkgutil.walk_packages(root.__path__, f"{package}."):
            module = importlib.import_module(found.name)
            for name, value in vars(module).items():
                if isinstance(value, re.Pattern) and isinstance(value.pattern, str) and id(value) not in seen:
                    seen.add(id(value))
                    yield f"{found.name}.{name}", value


def worst(pattern: re.Pattern[str]) -> tuple[float, str]:
    timed = []
    for label, text in HOSTILE.items():
        started = time.perf_counter()
        for _ in pattern.finditer(text):
            pass
        timed.append((time.perf_counter() - started, label))
    return max(timed)


def main() -> None:
    base = min(worst(BASELINE)[0] for _ in range(5))
    found = sorted(((worst(p), name) for name, p in patterns()), reverse=True)
    print(f"{len(found)} patterns; baseline \\w+ over {SIZE} characters: {base * 1e3:.3f} ms")
    for (took, label), name in found[:8]:
        print(f"  {took * 1e3:8.3f} ms  {took / base:7.1f}x  {name} ({label})")
    print(f"worst: {found[0][0][0] / base:.1f}x the baseline")


if __name__ == "__main__":
    main()
