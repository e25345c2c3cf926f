"""Target 4's figures (bench/open_loop.py): the p99 is read from every transaction pgbench ran
at a fixed rate, none lost, and the percentile is the nearest rank."""

from __future__ import annotations

import math
import re
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import NoReturn

import pytest

from bench import bench_booking, open_loop


def test_the_percentile_is_the_nearest_rank() -> None:
    values = [float(v) for v in range(100, 0, -1)]
    assert open_loop.percentile(values, 99) == 99.0
    assert open_loop.percentile(values, 50) == 50.0
    assert open_loop.percentile([7.0], 99) == 7.0
    assert open_loop.percentile([1.0, 1000.0], 99) == 1000.0  # 2 values: the 99th is the top
    assert math.isnan(open_loop.percentile([], 99))


@pytest.mark.postgres
@pytest.mark.slow
def test_every_transaction_at_a_fixed_rate_is_read(
    tmp_path: Path, missing_service: Callable[[str], NoReturn]
) -> None:
    if shutil.which("pgbench") is None:
        missing_service("pgbench is missing (Debian package postgresql-client)")
    with bench_booking.fresh_database("maillage_open_loop") as url:
        bench_booking._pgbench(url, "-i", "-q", "-s", "1")
        command = ["pgbench", "-h", url.host or "127.0.0.1", "-p", str(url.port or 5432)]
        command += ["-U", url.username or "postgres", "-c", "2", "-j", "2", "-R", "40", "-T", "2"]
        command += ["--log", f"--log-prefix={tmp_path / 'rated'}", url.database or ""]
        done = subprocess.run(command, capture_output=True, text=True, timeout=60, check=True)
    processed = re.search(r"number of transactions actually processed: (\d+)", done.stdout)
    assert processed, done.stdout
    latencies = open_loop.pgbench_latencies(tmp_path, "rated")
    assert len(list(tmp_path.glob("rated.*"))) == 2  # a log per thread, both read
    assert len(latencies) == int(processed.group(1)) > 20  # about 80 at 40 a second for 2 s
    # In milliseconds (the log has microseconds): a small TPC-B transaction takes a few.
    assert all(latency > 0 for latency in latencies)
    assert open_loop.percentile(latencies, 50) < 2000
    assert open_loop.percentile(latencies, 99) >= open_loop.percentile(latencies, 50)
