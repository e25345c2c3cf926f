"""The package architecture, as import-linter contracts in pyproject.toml.

Each contract is its own test, so a broken one fails with import-linter's report of the imports
that break it (file and line), and the others still say whether they hold.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]
CONTRACTS = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"][
    "importlinter"
]["contracts"]


@pytest.fixture(scope="module")
def report() -> str:
    """import-linter's report on this checkout's ``src`` (not an installed copy)."""
    path = os.pathsep.join([str(ROOT / "src"), str(ROOT)])
    env = {**os.environ, "PYTHONPATH": path, "COLUMNS": "200"}  # one line per contract
    command = [Path(sys.executable).parent / "lint-imports", "--config", "pyproject.toml"]
    run = subprocess.run(
        [*command, "--no-cache", "--no-logo"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert "Contracts:" in run.stdout, run.stdout + run.stderr
    return run.stdout


def broken_section(report: str, name: str) -> str:
    """The part of the report that lists the imports breaking the contract ``name``."""
    broken = report.split("Broken contracts", 1)[-1]
    start = broken.find(f"\n{name}\n")
    following = [broken.find(f"\n{c['name']}\n", start + 1) for c in CONTRACTS]
    end = min([position for position in following if position > start] or [len(broken)])
    return broken[start:end].strip()


@pytest.mark.parametrize("contract", CONTRACTS, ids=[c["id"] for c in CONTRACTS])
def test_contract_is_kept(report: str, contract: dict[str, object]) -> None:
    name = str(contract["name"])
    if f"{name} KEPT" not in report:
        pytest.fail(broken_section(report, name), pytrace=False)
