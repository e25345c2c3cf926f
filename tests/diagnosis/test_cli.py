"""The `maillage diagnose` contract as other tools drive it."""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from maillage.cli import app

runner = CliRunner()


@pytest.fixture(scope="module")
def meuse(tmp_path_factory):
    out = tmp_path_factory.mktemp("run") / "meuse"
    result = runner.invoke(app, ["diagnose", "--department", "55", "--out", str(out)])
    assert result.exit_code == 0, result.output
    return out, result


def test_writes_every_output(meuse):
    out, _ = meuse
    names = {p.name for p in out.iterdir()}
    assert names == {
        "communes.csv",
        "communes.parquet",
        "communes.geojson",
        "carte.html",
        "summary.json",
    }


def test_communes_table_columns_and_codes(meuse):
    out, _ = meuse
    table = pd.read_csv(
        out / "communes.csv", dtype={"code_commune": str, "departement": str, "region": str}
    )
    expected = [
        "code_commune",
        "nom",
        "departement",
        "region",
        "population",
        "supply",
        "access",
        "classe",
    ]
    assert set(expected) <= set(table.columns)
    assert (table.departement == "55").all() and (table.region == "44").all()
    assert table.code_commune.str.len().eq(5).all()
    assert table.classe.dropna().isin(["sous-dotee", "intermediaire", "dotee"]).all()
    assert (table.supply_data == "SYNTHETIC").all()
    parquet = pd.read_parquet(out / "communes.parquet")
    assert len(parquet) == len(table)


def test_summary_names_inputs_and_synthetic_label(meuse):
    out, result = meuse
    summary = json.loads((out / "summary.json").read_text())
    for key in (
        "method",
        "profession",
        "parameters",
        "inputs",
        "totals_by_class",
        "dropped",
        "missing",
    ):
        assert key in summary
    assert summary["inputs"]["supply"]["synthetic"] is True
    assert summary["method"] == "apl"
    assert "SYNTHETIC" in result.output
    assert "SYNTHETIC" in (out / "carte.html").read_text()


def test_map_is_self_contained(meuse):
    out, _ = meuse
    page = (out / "carte.html").read_text()
    assert '<html lang="fr">' in page
    assert "<svg" in page and "<title>" in page
    assert "http://" not in page and "https://" not in page


def test_geojson_carries_polygons(meuse):
    out, _ = meuse
    collection = json.loads((out / "communes.geojson").read_text())
    kinds = {f["geometry"]["type"] for f in collection["features"] if f["geometry"]}
    assert kinds <= {"Polygon", "MultiPolygon"} and kinds
    assert "SYNTHETIC" in collection["name"]


def test_unknown_commune_in_csv_supply_names_file_line_column(tmp_path):
    supply = tmp_path / "offre.csv"
    supply.write_text("code_commune,fte\n55029,1\n99999,2\n")
    out = tmp_path / "out"
    result = runner.invoke(
        app,
        [
            "diagnose",
            "--department",
            "55",
            "--supply",
            str(supply),
            "--supply-format",
            "csv",
            "--out",
            str(out),
        ],
    )
    assert result.exit_code != 0
    message = " ".join(result.output.split())
    assert "offre.csv" in message and "line 3" in message and "code_commune" in message
    assert not out.exists()


def test_unknown_method_is_refused(tmp_path):
    result = runner.invoke(app, ["diagnose", "--method", "magic", "--out", str(tmp_path / "o")])
    assert result.exit_code != 0
    assert "method" in result.output


DATA = Path(__file__).parents[1] / "territory" / "data"


def test_real_annuaire_extract_and_ages(tmp_path):
    out = tmp_path / "ge"
    result = runner.invoke(
        app,
        [
            "diagnose",
            "--supply",
            str(DATA / "PS_LibreAcces_Personne_activite_sample.txt"),
            "--ages",
            str(DATA / "base-cc-evol-struct-pop-sample.csv"),
            "--out",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    summary = json.loads((out / "summary.json").read_text())
    assert summary["inputs"]["supply"] == {
        "path": str(DATA / "PS_LibreAcces_Personne_activite_sample.txt"),
        "format": "annuaire",
        "synthetic": False,
    }
    assert summary["inputs"]["ages"]["synthetic"] is False
    assert "standardised" in summary["demand"]
    assert any("99132" in json.dumps(d) or "foreign" in json.dumps(d) for d in summary["dropped"])
    table = pd.read_csv(out / "communes.csv", dtype={"code_commune": str})
    assert (table.supply_data == "declared").all()
    strasbourg = table.set_index("code_commune").loc["67482"]
    assert strasbourg.supply > 0
    assert "SYNTHETIC" not in result.output


def test_method_without_published_thresholds_warns_and_leaves_classe_empty(tmp_path):
    out = tmp_path / "e2"
    result = runner.invoke(
        app, ["diagnose", "--department", "55", "--method", "e2sfca", "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert "thresholds" in result.output
    table = pd.read_csv(out / "communes.csv", keep_default_na=False)
    assert (table.classe == "").all()


def test_given_thresholds_classify(tmp_path):
    out = tmp_path / "th"
    result = runner.invoke(
        app,
        [
            "diagnose",
            "--department",
            "55",
            "--method",
            "2sfca",
            "--thresholds",
            "0.0005,0.001",
            "--out",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    table = pd.read_csv(out / "communes.csv")
    expected = np.where(
        table.access <= 0.0005,
        "sous-dotee",
        np.where(table.access <= 0.001, "intermediaire", "dotee"),
    )
    assert (table.classe.to_numpy() == expected).all()


@pytest.mark.parametrize("method", ["apl", "e2sfca"])
def test_access_keeps_every_digit(tmp_path, method):
    """communes.csv reads back exactly as the Parquet; FTE-per-inhabitant methods add the
    value per 100,000 inhabitants."""
    out = tmp_path / method
    result = CliRunner().invoke(
        app, ["diagnose", "--department", "55", "--method", method, "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    table = pd.read_csv(out / "communes.csv")
    parquet = pd.read_parquet(out / "communes.parquet")
    np.testing.assert_array_equal(table.access.to_numpy(), parquet.access.to_numpy())
    digits = table.access.dropna().astype(str).str.replace(r"^0\.0*|\.|e.*$", "", regex=True)
    assert digits.str.len().max() >= 12  # not six decimals
    if method == "apl":
        assert "access_per_100k" not in table
    else:
        assert list(table.columns[7:9]) == ["access", "access_per_100k"]
        np.testing.assert_allclose(table.access_per_100k, table.access * 1e5, rtol=1e-15)
        assert 10 < table.access_per_100k.median() < 1000
