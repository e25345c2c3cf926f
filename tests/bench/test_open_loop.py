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
from sqlalchemy import create_engine

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


@pytest.mark.postgres
def test_a_replay_copy_holds_the_bench_database_and_leaves_it_untouched() -> None:
    """Each form of the replay books on its own copy of the bench database (a fast machine
    ran out of free slots when both forms shared one): the copy starts with every row, and
    what it books stays in it."""
    with bench_booking.fresh_database("maillage_copy_source") as source:
        bench_booking._pgbench(source, "-i", "-q", "-s", "1")
        with bench_booking.fresh_database("maillage_copy", source) as copy:
            bench_booking._pgbench(copy, "-n", "-t", "5", "-c", "1")
            engine = create_engine(copy)
            with engine.connect() as connection:
                copied = connection.exec_driver_sql("SELECT count(*) FROM pgbench_accounts")
                assert copied.scalar_one() == 100_000
                booked = connection.exec_driver_sql("SELECT count(*) FROM pgbench_history")
                assert booked.scalar_one() == 5
            engine.dispose()
        engine = create_engine(source)
        with engine.connect() as connection:
            untouched = connection.exec_driver_sql("SELECT count(*) FROM pgbench_history")
            assert untouched.scalar_one() == 0
        engine.dispose()
