"""`maillage plan` end to end on small areas: files, certificate, rules, errors and labels."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pyproj
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
    """A local app holding only ``plan`` (the lead wires it into ``maillage``)."""


register(app)
runner = CliRunner()
FILES = {"sites.csv", "impact.csv", "plan.geojson", "carte.html", "summary.json"}
SITES_COLUMNS = [
    "rank",
    "site_id",
    "name",
    "code_commune",
    "lon",
    "lat",
    "gain",
    "population_covered",
]
IMPACT_COLUMNS = ["code_commune", "access_before", "access_after", "classe_before", "classe_after"]


def plan(out: Path, *options: str) -> tuple[object, Path]:
    result = runner.invoke(app, ["plan", *options, "--out", str(out)])
    return result, out


def read(out: Path) -> tuple[pd.DataFrame, pd.DataFrame, dict]:
    codes = {"code_commune": str, "site_id": str, "departement": str}
    sites = pd.read_csv(out / "sites.csv", dtype=codes, keep_default_na=False, na_values=[""])
    impact = pd.read_csv(out / "impact.csv", dtype=codes, keep_default_na=False, na_values=[""])
    return sites, impact, json.loads((out / "summary.json").read_text())


@pytest.fixture(scope="module")
def meuse(tmp_path_factory):
    result, out = plan(
        tmp_path_factory.mktemp("plan") / "meuse", "--sites", "5", "--department", "55"
    )
    assert result.exit_code == 0, result.output
    return result, out


def test_writes_every_file_with_its_columns(meuse):
    _, out = meuse
    assert {p.name for p in out.iterdir()} == FILES | {".maillage-output.json"}
    sites, impact, summary = read(out)
    assert list(sites.columns[: len(SITES_COLUMNS)]) == SITES_COLUMNS
    assert set(IMPACT_COLUMNS) <= set(impact.columns)
    assert sites["rank"].tolist() == [1, 2, 3, 4, 5]
    for key in ("objective", "bound", "gap", "solver", "times", "parameters", "provenance"):
        assert key in summary


def test_sites_are_inside_the_area_and_ranked_by_gain(meuse):
    sites, impact, summary = read(meuse[1])
    assert (sites.departement == "55").all()
    assert sites.code_commune.isin(impact.code_commune).all()
    assert sites.site_id.is_unique
    assert (np.diff(sites.gain) <= 1e-9).all()  # greedy re-sequencing: gains only shrink
    assert sites.gain.sum() == pytest.approx(summary["objective"])  # no existing site


def test_objective_is_real_and_the_gap_certified(meuse):
    """Recompute the under-served objective of the chosen sites from the written files."""
    sites, impact, summary = read(meuse[1])
    communes = load_communes()
    area = communes.set_index("code_commune").loc[impact.code_commune].reset_index()
    pairs = CrowFly().pairs(communes_places(area), site_places(sites, communes), 10.0)
    covered = np.zeros(len(area), dtype=bool)
    covered[pairs.origin] = True
    t2 = summary["parameters"]["thresholds_used"][1]
    deficit = np.clip((t2 - impact.access_before.fillna(0)) / t2, 0, 1)
    value = (impact.population.fillna(0) * deficit)[covered].sum()
    assert summary["objective"] == pytest.approx(value, rel=1e-6)  # summed in another order
    assert summary["bound"] >= summary["objective"] * (1 - 1e-9)
    gap = (summary["bound"] - summary["objective"]) / summary["objective"]
    assert summary["gap"] == pytest.approx(gap, abs=1e-12)
    assert summary["gap"] <= 1e-4 and summary["solver"] == "highs"
    assert summary["objective"] >= summary["greedy_objective"]


def test_impact_only_raises_access_and_agrees_with_summary(meuse):
    _, impact, summary = read(meuse[1])
    assert (impact.access_after >= impact.access_before - 1e-12).all()
    assert (impact.access_after > impact.access_before).any()
    leaving = (impact.classe_before == "sous-dotee") & (impact.classe_after != "sous-dotee")
    scenario = summary["scenario"]
    assert scenario["population_leaving_sous_dotee"] == impact.population[leaving].sum()
    assert scenario["label"].startswith("SIMULATION")


def test_synthetic_supply_is_labelled_everywhere(meuse):
    result, out = meuse
    sites, impact, summary = read(out)
    assert summary["synthetic"] is True and "SYNTHETIC" in summary["warning"]
    assert (sites.supply_data == "SYNTHETIC").all() and (impact.supply_data == "SYNTHETIC").all()
    geojson = json.loads((out / "plan.geojson").read_text())
    assert "SYNTHETIC" in geojson["name"]
    assert "SYNTHETIC" in (out / "carte.html").read_text()
    assert "SYNTHETIC" in result.output and "SIMULATION" in result.output


def test_map_shows_before_after_and_sites_offline(meuse):
    page = (meuse[1] / "carte.html").read_text()
    assert "Avant : diagnostic" in page and "Après : simulation" in page
    assert page.count('class="site"') == 2 * 5  # the five sites on both maps
    assert "http://" not in page and "https://" not in page


def test_existing_sites_stay_open_and_are_not_counted(tmp_path):
    existing = tmp_path / "existing.csv"
    existing.write_text(
        "id,name,code_commune\ne1,MSP Verdun,55545\ne2,MSP Bar-le-Duc,55029\ne3,Nancy,54395\n"
    )
    result, out = plan(
        tmp_path / "out", "--sites", "3", "--department", "55", "--existing", str(existing)
    )
    assert result.exit_code == 0, result.output
    listed, _, summary = read(out)
    sites = listed[listed.status.eq("nouveau")]
    assert len(sites) == 3 and summary["existing_sites"] == 3
    # sites.csv lists the existing sites after the new ones, without rank nor gain.
    kept = listed[listed.status.eq("existant")]
    assert listed.status.tolist() == ["nouveau"] * 3 + ["existant"] * 3
    assert set(kept.site_id) == {"e1", "e2", "e3"} and kept[["rank", "gain"]].isna().all().all()
    # A new site in a commune an existing site already serves would gain nothing.
    assert not sites.code_commune.isin(["55545", "55029"]).any()
    features = json.loads((out / "plan.geojson").read_text())["features"]
    kept = {
        f["properties"]["site_id"] for f in features if f["properties"].get("status") == "existant"
    }
    assert kept == {"e1", "e2", "e3"}
    # The existing sites already serve demand: the new sites' gains do not add up to it all.
    assert summary["objective"] - sites.gain.sum() > 0


def test_quotas_per_department_are_respected(tmp_path):
    free, out = plan(tmp_path / "free", "--sites", "4", "--region", "94")
    assert free.exit_code == 0, free.output
    assert read(out)[0].departement.value_counts().max() > 2  # so the quota below binds
    result, out = plan(
        tmp_path / "out", "--sites", "4", "--region", "94", "--max-per-department", "2"
    )
    assert result.exit_code == 0, result.output
    sites, _, summary = read(out)
    assert sites.departement.value_counts().to_dict() == {"2A": 2, "2B": 2}
    assert summary["parameters"]["max_per_department"] == 2


def test_infeasible_quotas_fail_clearly_and_write_nothing(tmp_path):
    result, out = plan(
        tmp_path / "out", "--sites", "4", "--region", "94", "--min-per-department", "3"
    )
    assert result.exit_code != 0
    assert "les quotas minimums totalisent 6 nouveaux sites, plus que p = 4" in result.output
    assert not out.exists()


def test_bad_candidate_csv_names_file_line_and_column(tmp_path):
    bad = tmp_path / "candidates.csv"
    bad.write_text("id,name,code_commune\na,Verdun,55545\nb,Nowhere,55999\n")
    result, out = plan(
        tmp_path / "out", "--sites", "1", "--department", "55", "--candidates", f"csv:{bad}"
    )
    assert result.exit_code != 0
    message = " ".join(result.output.split())
    assert f"{bad}, ligne 3, colonne 'code_commune' : code commune inconnu" in message
    assert not out.exists()


def test_budget_bounds_the_cost_of_new_sites(tmp_path):
    candidates = tmp_path / "candidates.csv"
    candidates.write_text(
        "id,name,code_commune,cost\n"
        "a,Verdun,55545,3\nb,Bar-le-Duc,55029,2\nc,Commercy,55122,1\n"
        "d,Stenay,55502,1\ne,Vaucouleurs,55533,1\nf,Étain,55181,2\n"
    )
    result, out = plan(
        tmp_path / "out",
        "--sites",
        "2",
        "--department",
        "55",
        "--candidates",
        f"csv:{candidates}",
        "--budget",
        "3",
    )
    assert result.exit_code == 0, result.output
    sites, _, summary = read(out)
    assert sites.cost.sum() <= 3 and len(sites) == 2
    assert summary["inputs"]["candidates"]["source"] == f"csv:{candidates}"

    result, _ = plan(tmp_path / "out2", "--sites", "2", "--department", "55", "--budget", "3")
    assert result.exit_code != 0 and "--budget demande un coût" in result.output


def test_finess_candidates(tmp_path):
    """A FINESS extract of four Meuse facilities (Lambert-93) as the candidate list."""
    communes = load_communes().set_index("code_commune")
    codes = ["55545", "55029", "55122", "55502"]
    x, y = pyproj.Transformer.from_crs(4326, 2154, always_xy=True).transform(
        communes.loc[codes, "lon"].to_numpy(), communes.loc[codes, "lat"].to_numpy()
    )
    lines = ["finess;etalab;39;2024-07-02"]
    for n, (code, category) in enumerate(zip(codes, ["500", "620", "124", "101"], strict=True)):
        fields = [""] * 31
        fields[:3] = ["structureet", f"55000000{n}", "550000000"]
        fields[3], fields[12], fields[13], fields[18] = f"SITE {n}", code[2:], "55", category
        lines.append(";".join(fields))
        lines.append(f"geolocalisation;55000000{n};{x[n]};{y[n]};1,IGN,LAMBERT_93;2024-06-30")
    finess = tmp_path / "finess.csv"
    finess.write_text("\n".join(lines) + "\n")
    result, out = plan(
        tmp_path / "out", "--sites", "2", "--department", "55", "--candidates", f"finess:{finess}"
    )
    assert result.exit_code == 0, result.output
    sites, _, _ = read(out)
    assert set(sites.site_id) <= {"550000000", "550000001", "550000002"}  # 101 is not a site


def test_pmedian_with_capacity(tmp_path):
    result, out = plan(
        tmp_path / "out",
        "--sites",
        "3",
        "--department",
        "55",
        "--objective",
        "pmedian",
        "--capacity",
        "2000",
        "--time-limit",
        "30",
    )
    assert result.exit_code == 0, result.output
    summary = read(out)[2]
    assert summary["sense"] == "minimise" and summary["objective"] <= summary["greedy_objective"]
    assert summary["bound"] <= summary["objective"] * (1 + 1e-9)
    assert summary["scenario"]["teleconsultations_per_site"] == 2000


def test_underserved_needs_thresholds(tmp_path):
    result, out = plan(tmp_path / "out", "--sites", "2", "--department", "55", "--method", "2sfca")
    assert result.exit_code != 0 and "demande des seuils de zonage" in result.output
    assert not out.exists()


def test_declared_supply_carries_no_synthetic_label(tmp_path):
    supply = tmp_path / "supply.csv"
    supply.write_text("code_commune,fte\n55545,12\n55029,10\n55122,3\n55502,2\n")
    result, out = plan(
        tmp_path / "out",
        "--sites",
        "2",
        "--department",
        "55",
        "--supply",
        str(supply),
        "--supply-format",
        "csv",
    )
    assert result.exit_code == 0, result.output
    sites, impact, summary = read(out)
    assert summary["synthetic"] is False and "warning" not in summary
    assert (sites.supply_data == "declared").all() and (impact.supply_data == "declared").all()
    assert "SYNTHETIC" not in (out / "carte.html").read_text() + result.output
    assert summary["inputs"]["supply"]["path"] == str(supply)


def test_highs_prints_nothing_on_stdout(tmp_path, capfd):
    # HiGHS writes its banner from C++, past the CLI runner's capture: only the file
    # descriptor shows it, and stdout must stay clean for users piping the plan.
    result, _ = plan(tmp_path / "quiet", "--sites", "2", "--department", "55")
    assert result.exit_code == 0, result.output
    captured = capfd.readouterr()
    assert "HiGHS" not in captured.out
    assert "HiGHS" not in captured.err
