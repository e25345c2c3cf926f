"""The `maillage diagnose` contract as other tools drive it."""

import json
import os
import re
import shutil
import subprocess
import sys
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
    result = runner.invoke(
        app, ["diagnose", "--department", "55", "--by", "epci", "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    return out, result


def test_writes_every_output(meuse):
    out, _ = meuse
    names = {p.name for p in out.iterdir()}
    assert names == {
        "communes.csv",
        "communes.parquet",
        "communes.geojson",
        "territories.csv",
        "carte.html",
        "summary.json",
        ".maillage-output.json",
    }


def test_territories_add_up_to_the_communes(meuse):
    out, _ = meuse
    communes = pd.read_csv(
        out / "communes.csv", dtype={"epci": str, "code_commune": str}, keep_default_na=False
    )
    territories = pd.read_csv(out / "territories.csv", dtype={"code": str})
    population = communes.population.astype(float)
    for level in ("epci", "departement", "region"):
        rows = territories[territories.level == level]
        assert rows.population.sum() == population.sum()
        assert rows.communes.sum() == len(communes)
        for name in ("sous-dotee", "intermediaire", "dotee"):
            column = "population_" + name.replace("-", "_")
            assert rows[column].sum() == population[communes.classe == name].sum()
        assert rows.population_no_care.sum() == population[communes.no_care].sum()
    epci = territories[territories.level == "epci"].set_index("code")
    assert set(epci.index) == set(communes.epci)
    bar_le_duc = epci.loc[communes.set_index("code_commune").at["55029", "epci"]]
    assert "Bar-le-Duc" in bar_le_duc.nom
    # Meuse's EPCI reaching into other departments are flagged as only partly summed
    assert not epci.complete.all() and epci.complete.any()


def test_map_by_epci_draws_the_territories(meuse):
    out, _ = meuse
    page = (out / "carte.html").read_text()
    assert "Accessibilité par EPCI" in page and "Accessibilité par commune" in page
    assert "Bar-le-Duc" in page


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
    assert "offre.csv" in message and "ligne 3" in message and "code_commune" in message
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
    assert "standardisée" in summary["demand"]
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
    assert "aucun seuil de zonage publié" in " ".join(result.output.split())
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
    # Full precision: the CSV's 6-digit rounding can put a value on a threshold.
    table = pd.read_parquet(out / "communes.parquet")
    expected = np.where(
        table.access <= 0.0005,
        "sous-dotee",
        np.where(table.access <= 0.001, "intermediaire", "dotee"),
    )
    assert (table.classe.to_numpy() == expected).all()


def test_compare_with_itself_changes_nothing(meuse, tmp_path):
    before, _ = meuse
    out = tmp_path / "again"
    result = runner.invoke(
        app, ["diagnose", "--department", "55", "--compare", str(before), "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    communes = pd.read_csv(out / "evolution_communes.csv", dtype={"code_commune": str})
    epci = pd.read_csv(out / "evolution_epci.csv", dtype={"code": str})
    assert len(communes) == len(pd.read_csv(before / "communes.csv"))
    assert (communes.access_change == 0).all() and communes.access_change.notna().all()
    assert (communes.classe_before == communes.classe_after).all()
    assert (epci.access_change.dropna() == 0).all() and epci.access_change.notna().any()
    assert (epci.population_sous_dotee_change == 0).all()
    assert epci.share_fte_aged_60_plus.between(0, 1).all()  # the synthetic supply has ages
    summary = json.loads((out / "summary.json").read_text())["compare"]
    assert summary["communes_changing_class"] == 0 and summary["population_losing"] == 0
    page = (out / "evolution.html").read_text()
    assert "Aucun changement" in page and "Baisse" not in page


def test_compare_with_a_folder_that_is_no_diagnosis_says_why(tmp_path):
    (tmp_path / "vide").mkdir()
    result = runner.invoke(
        app,
        [
            "diagnose",
            "--department",
            "55",
            "--compare",
            str(tmp_path / "vide"),
            "--out",
            str(tmp_path / "o"),
        ],
    )
    assert result.exit_code == 2
    message = " ".join(result.output.split())
    assert "vide" in message and "summary.json manque" in message
    assert not (tmp_path / "o").exists()


def test_compare_refuses_another_measure(meuse, tmp_path):
    before, _ = meuse
    result = runner.invoke(
        app,
        [
            "diagnose",
            "--department",
            "55",
            "--method",
            "2sfca",
            "--compare",
            str(before),
            "--out",
            str(tmp_path / "o"),
        ],
    )
    assert result.exit_code == 2
    assert "ne se comparent pas" in " ".join(result.output.split())


def test_map_speaks_units_thresholds_and_territory(meuse):
    out, _ = meuse
    page = (out / "carte.html").read_text()
    assert "Sous-dotée (≤ 2,5) — consultation/an/habitant" in page
    assert 'aria-label="Meuse (55)"' in page and "France métropolitaine" not in page
    assert re.search(r"<title>Bar-le-Duc \(55029\) — APL \d+,\d consultation/an/habitant — ", page)
    summary = json.loads((out / "summary.json").read_text())
    cases = {item["case"]: item for item in summary["explanations"]}
    assert cases["empty_commune"]["communes"] == 6  # Meuse's villages « morts pour la France »
    for item in summary["explanations"]:
        assert item["explication"] in page


def test_results_on_stdout_progress_on_stderr(tmp_path):
    # as `maillage diagnose > log.txt` runs it: a real process, its two streams apart
    src = Path(__file__).parents[2] / "src"
    done = subprocess.run(
        [sys.executable, "-m", "maillage.cli", "diagnose", "--department", "55",
         "--out", str(tmp_path / "m")],
        capture_output=True, text=True, env=os.environ | {"PYTHONPATH": str(src)}, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "Meuse (55) — APL generaliste" in done.stdout
    assert "sous-dotée (≤ 2,5)" in done.stdout and "Résultats :" in done.stdout
    assert "territories.csv" in done.stdout
    assert "Chargement des communes" in done.stderr and "Chargement" not in done.stdout


def test_help_and_errors_speak_french(tmp_path):
    help_text = " ".join(runner.invoke(app, ["diagnose", "--help"]).output.split())
    assert "Dossier des résultats" in help_text and "[défaut : apl]" in help_text
    result = runner.invoke(app, ["diagnose", "--region", "Gaule", "--out", str(tmp_path / "o")])
    assert result.exit_code == 2
    assert "erreur : région inconnue 'Gaule'" in " ".join(result.output.split())


def test_compare_reads_a_run_written_before_communes_had_their_epci(meuse, tmp_path):
    before, _ = meuse
    older = tmp_path / "older"
    shutil.copytree(before, older)
    table = pd.read_parquet(older / "communes.parquet").drop(columns="epci")
    table.to_parquet(older / "communes.parquet")
    out = tmp_path / "again"
    result = runner.invoke(
        app, ["diagnose", "--department", "55", "--compare", str(older), "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    epci = pd.read_csv(out / "evolution_epci.csv", dtype={"code": str})
    assert (epci.access_change.dropna() == 0).all()
    assert epci.population_before.sum() == epci.population_after.sum()


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
        at = list(table.columns).index("access")
        assert list(table.columns[at : at + 2]) == ["access", "access_per_100k"]
        np.testing.assert_allclose(table.access_per_100k, table.access * 1e5, rtol=1e-15)
        assert 10 < table.access_per_100k.median() < 1000
