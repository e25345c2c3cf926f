"""Simulated impact: the diagnosis before, never lower after, figures that agree."""

from __future__ import annotations

import numpy as np
import pytest

from maillage.access.apl import apl_supply
from maillage.diagnosis.parameters import DiagnosisParameters
from maillage.diagnosis.pipeline import fte_by_commune, run_diagnosis
from maillage.planning.scenario import ACTS_PER_FTE, IMPACT_COLUMNS, simulate, site_supply

MEUSE = DiagnosisParameters(department="55")
THRESHOLDS = (2.5, 4.0)
SITES = np.array(["55545", "55029", "55122", "55545"])  # Verdun twice: two sites there


@pytest.fixture(scope="module")
def diagnosis():
    return run_diagnosis(MEUSE)


@pytest.fixture(scope="module")
def impact():
    return simulate(MEUSE, SITES, 2_000.0, THRESHOLDS)


def test_a_site_adds_its_teleconsultations_as_acts_and_fte():
    rows = site_supply(np.array(["55545", "55545", "55029"]), 2_000.0)
    codes = np.array(["55545", "55029", "55001"])
    # Exactly the capacity in acts (the APL's 3,600 activity floor must not inflate it) …
    np.testing.assert_allclose(apl_supply(rows, codes), [4_000.0, 2_000.0, 0.0])
    # … and capacity / acts per FTE in FTE-equivalents for the FTE-based methods.
    np.testing.assert_allclose(
        fte_by_commune(rows, codes), [4_000 / ACTS_PER_FTE, 2_000 / 4_800, 0]
    )


def test_before_is_the_diagnosis(diagnosis, impact):
    table = impact.table
    assert list(table.columns) == IMPACT_COLUMNS
    assert table.code_commune.tolist() == diagnosis.communes.code_commune.tolist()
    np.testing.assert_allclose(table.access_before, diagnosis.communes.access, rtol=1e-9)
    assert (table.classe_before == diagnosis.communes.classe).all()


def test_access_never_falls_and_rises_near_the_sites(impact):
    table = impact.table.set_index("code_commune")
    assert (table.access_after >= table.access_before - 1e-12).all()
    assert (
        table.loc[["55545", "55029", "55122"], "access_after"]
        > table.loc[["55545", "55029", "55122"], "access_before"]
    ).all()
    assert impact.summary["mean_access_after"] > impact.summary["mean_access_before"]


def test_population_leaving_sous_dotee_matches_the_table(impact):
    table, summary = impact.table, impact.summary
    leaving = (table.classe_before == "sous-dotee") & (table.classe_after != "sous-dotee")
    assert summary["population_leaving_sous_dotee"] == table.population[leaving].sum()
    assert summary["communes_leaving_sous_dotee"] == leaving.sum()
    entering = (table.classe_before != "sous-dotee") & (table.classe_after == "sous-dotee")
    assert not entering.any()
    before, after = summary["totals_by_class_before"], summary["totals_by_class_after"]
    assert sum(before.values()) == pytest.approx(sum(after.values()))
    assert before["sous-dotee"] - after["sous-dotee"] == pytest.approx(
        summary["population_leaving_sous_dotee"]
    )
    assert summary["label"].startswith("SIMULATION")


def test_no_site_changes_nothing():
    impact = simulate(MEUSE, np.array([], dtype=str), 2_000.0, THRESHOLDS)
    np.testing.assert_array_equal(impact.table.access_after, impact.table.access_before)
    assert impact.summary["population_leaving_sous_dotee"] == 0


def test_fte_methods_without_thresholds_leave_classes_empty():
    params = DiagnosisParameters(department="55", method="2sfca")
    with pytest.warns(UserWarning, match="aucun seuil de zonage publié pour 2sfca"):
        impact = simulate(params, SITES[:1], 2_000.0, None)
    table = impact.table
    assert (table.classe_after == "").all()
    assert impact.summary["population_leaving_sous_dotee"] is None
    gained = table.access_after - table.access_before
    assert gained.max() > 0 and (gained >= -1e-15).all()
