"""`deputy --help` as a whole process, wall time (target ≤ 0.25 s), paired run by run with `python -c pass` (the
interpreter's own start, the baseline in the same run) and with `deputy worker --help`; the median of each and
of the per-pair ratios. Run: `python -m bench.startup [--runs 20]`."""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

from bench.common import ROOT

DEPUTY = str(Path(sys.executable).parent / "deputy")
COMMANDS = {
    "python -c pass": [sys.executable, "-c", "pass"],
    "deputy --help": [DEPUTY, "--help"],
    "deputy worker --help": [DEPUTY, "worker", "--help"],
}


def wall(command: list[str]) -> float:
    started = time.perf_counter()
    subprocess.run(command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    for command in COMMANDS.values():  # warm-up: the page cache and .pyc files
        wall(command)
    times: dict[str, list[float]] = {name: [] for name in COMMANDS}
    for _ in range(args.runs):
        for name, command in COMMANDS.items():
            times[name].append(wall(command))
    base = times["python -c pass"]
    print(f"whole-process wall time, {args.runs} alternating runs (L {os.getloadavg()[0]:.2f})")
    for name, got in times.items():
        ratio = statistics.median(t / b for t, b in zip(got, base, strict=True))
        print(f"  {name:<22} median {statistics.median(got):.3f} s  min {min(got):.3f}  {ratio:5.1f}x python -c pass")
    print(f"deputy --help <= 0.25 s: {'yes' if statistics.median(times['deputy --help']) <= 0.25 else 'NO'}")


if __name__ == "__main__":
    main()
