"""The whole national run as a user launches it: `maillage diagnose --region all`.

Anchors measured in the same run: the same command on one department (fixed start-up and
I/O cost), and the issue's budgets (15 s wall on 2 cores, 2 GB peak memory) as ratios.
"""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

WALL_BUDGET_S = 15.0
MEMORY_BUDGET_MB = 2048.0


def timed_run(args: list[str], out: Path) -> tuple[float, float]:
    """Wall seconds and peak RSS (MB) of one `maillage diagnose` child process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    start = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "maillage.cli", "diagnose", *args, "--out", str(out)],
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=os.environ | {"COLUMNS": "100"},
    )
    wall = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return wall, max(peak, before) / 1024


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        # Warm the commune cache so that both runs measure the steady state.
        timed_run(["--department", "55"], Path(tmp) / "warm")
        small, _ = timed_run(["--department", "55"], Path(tmp) / "meuse")
        wall, peak = timed_run(["--region", "all"], Path(tmp) / "france")
    print(f"department 55 (start-up anchor): {small:6.2f} s")
    print(f"national --region all:          {wall:6.2f} s  peak RSS {peak:7.0f} MB")
    print(
        f"wall / budget {WALL_BUDGET_S:g} s: {wall / WALL_BUDGET_S:.2f}  "
        f"(national / department: {wall / small:.1f}x)"
    )
    print(f"memory / budget {MEMORY_BUDGET_MB:g} MB: {peak / MEMORY_BUDGET_MB:.2f}")


if __name__ == "__main__":
    main()
