"""Every CSV the analytics write (diagnose with --compare, plan, report), read back in both
dialects: with Python's csv module as written, and with French Excel's settings for excel-fr
(';' between fields, decimal comma, UTF-8 byte-order mark)."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from maillage.cli import app
from maillage.tabular import CSV_DIALECTS

runner = CliRunner()


def run(*args: str) -> None:
    result = runner.invoke(app, list(args))
    assert result.exit_code == 0, result.output


@pytest.fixture(scope="module")
def exports(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Path]]:
    """Each dialect's CSV files, by file name, from one run of each analytics command."""
    root = tmp_path_factory.mktemp("exports")
    monkeypatch = pytest.MonkeyPatch()
    monkeypatch.setenv("MAILLAGE_DATABASE_URL", f"sqlite:///{root / 'empty.sqlite'}")
    before = root / "before"
    run("diagnose", "--department", "55", "--out", str(before))
    files = {}
    for name in CSV_DIALECTS:
        out = root / name
        dialect = ["--csv-dialect", name]
        run("diagnose", "--department", "55", "--compare", str(before), *dialect,
            "--out", str(out / "diagnostic"))  # fmt: skip
        run("plan", "--sites", "2", "--department", "55", "--time-limit", "5", *dialect,
            "--out", str(out / "plan"))  # fmt: skip
        run("report", "--department", "55", "--period", "2025", *dialect,
            "--out", str(out / "report"))  # fmt: skip
        files[name] = {path.name: path for path in sorted(out.rglob("*.csv"))}
    monkeypatch.undo()
    return files


def test_every_analytics_export_is_written_in_both_dialects(exports):
    expected = {
        "communes.csv", "territories.csv", "evolution_communes.csv", "evolution_epci.csv",
        "sites.csv", "impact.csv", "indicators.csv", "access_simulation.csv",
    }  # fmt: skip
    assert set(exports["standard"]) == set(exports["excel-fr"]) == expected


@pytest.mark.parametrize("dialect", list(CSV_DIALECTS))
def test_csv_module_reads_every_export(exports, dialect):
    spec = CSV_DIALECTS[dialect]
    for name, path in exports[dialect].items():
        data = path.read_bytes()
        assert data.startswith(b"\xef\xbb\xbf") == spec.bom, name
        rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline=""),
                               delimiter=spec.delimiter))  # fmt: skip
        header, body = rows[0], rows[1:]
        assert len(header) > 1, f"{name}: one column only, wrong delimiter"
        assert body and all(len(row) == len(header) for row in body), name


def test_french_excel_settings_read_the_same_numbers(exports):
    for name, standard in exports["standard"].items():
        read = pd.read_csv(standard, dtype=str, keep_default_na=False)
        french = pd.read_csv(exports["excel-fr"][name], sep=";", decimal=",",
                             encoding="utf-8-sig", dtype=str, keep_default_na=False)  # fmt: skip
        assert list(french.columns) == list(read.columns), name
        numbers = [c for c in read.columns if _numeric(read[c])]
        assert numbers, name
        for column in numbers:
            as_fr = pd.to_numeric(french[column].str.replace(",", "."), errors="coerce")
            assert not french[column].str.contains(r"\d\.\d").any(), (name, column)
            pd.testing.assert_series_equal(
                as_fr, pd.to_numeric(read[column], errors="coerce"), check_names=False
            )
        text = [c for c in read.columns if c not in numbers]
        assert french[text].equals(read[text]), name  # text cells as written, in both


def _numeric(column: pd.Series) -> bool:
    """Whether every non-empty cell of a standard-dialect column is a number."""
    given = column[column != ""]
    return len(given) > 0 and pd.to_numeric(given, errors="coerce").notna().all()
