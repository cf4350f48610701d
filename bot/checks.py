"""One line of `deputy doctor`: what was checked, whether it is fine, and what to do if not."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str
    info: bool = False

    def line(self) -> str:
        mark = "--" if self.info else ("ok" if self.ok else "FIX")
        return f"{mark:<4}{self.name}: {self.detail}"
