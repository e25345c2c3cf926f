"""Each profession's APL in its own unit, never with the GPs' constants or thresholds."""

from __future__ import annotations

import warnings
from pathlib import Path
from unittest import mock

import numpy as np
import pytest

from maillage.access import apl
from maillage.diagnosis.parameters import DiagnosisParameters
from maillage.diagnosis.pipeline import run_diagnosis

AGES = Path(__file__).parents[1] / "territory" / "data" / "base-cc-evol-struct-pop-sample.csv"


def diagnose(**options):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # no thresholds outside GPs
        return run_diagnosis(DiagnosisParameters(department="23", **options))


def test_gp_apl_is_in_consultations_with_thresholds():
    summary = diagnose().summary
    assert summary["unit"] == "consultations par an et par habitant"
    assert summary["parameters"]["thresholds_used"] == (2.5, 4.0)
    assert "3,600" in summary["apl_parameters"]["offer"]


def test_nurse_apl_is_in_fte_per_100_000_inhabitants():
    result = diagnose(profession="infirmier")
    summary, table = result.summary, result.communes
    assert summary["unit"] == "ETP pour 100 000 habitants"
    assert "not found" in summary["apl_parameters"]["steps"]
    assert summary["parameters"]["thresholds_used"] is None
    assert (table.classe == "").all()
    # A SYNTHETIC set at 145 FTE per 100,000: the area's mean lands near it, not near 4.
    assert 80 < summary["mean_access"] < 250


def test_midwife_apl_counts_women_when_the_ages_file_gives_them():
    result = diagnose(profession="sage-femme", ages=AGES)
    summary, table = result.summary, result.communes
    assert summary["unit"] == "ETP pour 100 000 femmes"
    assert summary["demand"].startswith("population féminine")
    ajain = table.set_index("code_commune").loc["23001"]  # 61 women of 121 in the file
    assert ajain.demand == pytest.approx(ajain.population * 61 / 121)
    assert np.isfinite(table.access).all()


def test_other_professions_ignore_the_gp_consumption_curve():
    plain = diagnose(profession="kinesitherapeute")
    with_ages = diagnose(profession="kinesitherapeute", ages=AGES)
    np.testing.assert_array_equal(with_ages.communes.access, plain.communes.access)
    assert "pas de coefficients d'âge publiés" in with_ages.summary["demand"]


@pytest.mark.parametrize("profession", ["infirmier", "sage-femme"])
def test_a_run_for_another_profession_ignores_the_gp_act_constants(profession):
    plain = diagnose(profession=profession).communes.access
    with mock.patch.multiple(apl, MIN_ACTS=1.0, MAX_ACTS=2.0, DEFAULT_ACTS_PER_FTE=3.0):
        patched = diagnose(profession=profession).communes.access
    np.testing.assert_array_equal(patched, plain)
