"""`maillage plan` with the covering objectives (LSCP, p-center) and the sous-dotées one, and
the explanation every plan carries: checked against the files the plan writes."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import typer
from typer.testing import CliRunner

from maillage.planning.candidates import site_places
from maillage.planning.commands import register
from maillage.territory.communes import communes_places, load_communes
from maillage.travel.crowfly import CrowFly

app = typer.Typer()


@app.callback()
def main() -> None:
    """A local app holding only ``plan``."""


register(app)
runner = CliRunner()


def plan(out: Path, *options: str):
    result = runner.invoke(app, ["plan", "--department", "55", *options, "--out", str(out)])
    return result, out


def read(out: Path) -> tuple[pd.DataFrame, pd.DataFrame, dict]:
    codes = {"code_commune": str, "site_id": str, "departement": str}
    sites = pd.read_csv(out / "sites.csv", dtype=codes, keep_default_na=False, na_values=[""])
    impact = pd.read_csv(out / "impact.csv", dtype=codes, keep_default_na=False, na_values=[""])
    return sites, impact, json.loads((out / "summary.json").read_text())


def nearest_site(impact: pd.DataFrame, sites: pd.DataFrame, minutes: float) -> np.ndarray:
    """Minutes from each commune of ``impact`` to its nearest site (inf beyond ``minutes``)."""
    communes = load_communes()
    area = communes.set_index("code_commune").loc[impact.code_commune].reset_index()
    pairs = CrowFly().pairs(communes_places(area), site_places(sites, communes), minutes)
    nearest = np.full(len(area), np.inf)
    np.minimum.at(nearest, pairs.origin, pairs.minutes)
    return nearest


@pytest.fixture(scope="module")
def lscp(tmp_path_factory):
    result, out = plan(tmp_path_factory.mktemp("plan") / "lscp", "--objective", "lscp")
    assert result.exit_code == 0, result.output
    return result, out


def test_lscp_covers_everyone_with_the_fewest_sites(lscp):
    result, out = lscp
    sites, impact, summary = read(out)
    assert summary["objective"] == len(sites) and summary["unit"] == "nouveaux sites"
    assert summary["gap"] == 0.0 and summary["bound"] == len(sites)
    inhabited = impact.population.fillna(0).to_numpy() > 0
    assert (nearest_site(impact, sites, 10.0)[inhabited] <= 10.0).all()
    explanation = summary["explanation"]
    assert explanation["hors_de_portee"]["communes"] == 0
    assert "le moins de sites possible" in explanation["objectif"]
    assert sum(explanation["sites_par_classe"].values()) == pytest.approx(1.0)
    assert "Pourquoi ces sites" in result.output


def test_lscp_chooses_its_number_of_sites(tmp_path):
    result, out = plan(tmp_path / "out", "--objective", "lscp", "--sites", "3")
    assert result.exit_code == 2 and "retirez --sites" in result.output
    assert not out.exists()
    result, _ = plan(tmp_path / "out", "--objective", "pcenter")
    assert result.exit_code == 2 and "demande --sites" in result.output


def test_communes_with_care_need_no_site(lscp, tmp_path):
    # A practitioner within 6 min counts as care: some communes still need a site.
    result, out = plan(
        tmp_path / "out", "--objective", "lscp", "--served-by-supply", "--no-care-minutes", "6"
    )
    assert result.exit_code == 0, result.output
    sites, _, summary = read(out)
    assert 0 < len(sites) < len(read(lscp[1])[0])
    assert "déjà un praticien" in summary["explanation"]["objectif"]
    # Everyone in Meuse has a practitioner within 20 min (the default): no site is needed.
    result, out = plan(tmp_path / "none", "--objective", "lscp", "--served-by-supply")
    assert result.exit_code == 0, result.output
    sites, _, summary = read(out)
    assert len(sites) == 0 and summary["objective"] == 0 and summary["gap"] == 0.0
    result, _ = plan(tmp_path / "bad", "--sites", "2", "--served-by-supply")
    assert result.exit_code == 2 and "lscp et pcenter" in result.output


def test_pcenter_minimises_the_worst_trip_with_a_certificate(tmp_path):
    result, out = plan(
        tmp_path / "out", "--objective", "pcenter", "--sites", "4", "--minutes", "40"
    )
    assert result.exit_code == 0, result.output
    sites, impact, summary = read(out)
    assert len(sites) == 4 and summary["unit"] == "minutes"
    inhabited = impact.population.fillna(0).to_numpy() > 0
    worst = nearest_site(impact, sites, 40.0)[inhabited].max()
    assert summary["objective"] == pytest.approx(worst, rel=1e-6)  # CSV keeps 6 decimals
    assert summary["bound"] <= summary["objective"] and summary["gap"] is not None
    assert "pire temps de trajet" in summary["explanation"]["objectif"]


def test_pcenter_with_too_few_sites_for_the_cut_off_fails_clearly(tmp_path):
    result, out = plan(tmp_path / "out", "--objective", "pcenter", "--sites", "1")
    assert result.exit_code == 2
    assert "ne peuvent mettre chaque origine à moins de 10 min" in result.output
    assert not out.exists()


def test_sous_dotees_objective_weighs_only_sous_dotee_communes(tmp_path):
    result, out = plan(tmp_path / "out", "--objective", "sous-dotees", "--sites", "3")
    assert result.exit_code == 0, result.output
    sites, impact, summary = read(out)
    t1 = summary["parameters"]["thresholds_used"][0]
    covered = nearest_site(impact, sites, 10.0) <= 10.0
    deficit = np.clip((t1 - impact.access_before.fillna(0)) / t1, 0, 1)
    value = (impact.population.fillna(0) * deficit)[covered].sum()
    assert summary["objective"] == pytest.approx(value, rel=1e-6)
    explanation = summary["explanation"]
    assert set(explanation["poids_par_classe"]) == {"sous-dotee"}
    assert explanation["sites_par_classe"] == {"sous-dotee": 1.0}
    assert "seuil bas" in explanation["objectif"]


def test_default_objective_says_why_its_sites_sit_where_they_do(tmp_path):
    result, out = plan(tmp_path / "out", "--sites", "3")
    assert result.exit_code == 0, result.output
    explanation = read(out)[2]["explanation"]
    assert "seuil haut" in explanation["objectif"]
    assert "--objective sous-dotees" in explanation["pourquoi"]
    assert explanation["poids_par_classe"].keys() <= {"sous-dotee", "intermediaire"}
    page = (out / "carte.html").read_text()
    assert "Pourquoi ces sites" in page


def test_a_plan_cut_by_its_time_limit_still_has_a_certified_bound(tmp_path):
    result, out = plan(
        tmp_path / "out", "--objective", "pmedian", "--sites", "8", "--time-limit", "0.01"
    )
    assert result.exit_code == 0, result.output
    summary = read(out)[2]
    assert summary["solver"] == "highs" and summary["bound"] is not None
    assert summary["bound"] <= summary["objective"] and summary["gap"] is not None
    assert "non certifié" not in result.output
