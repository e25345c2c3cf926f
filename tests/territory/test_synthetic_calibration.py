"""The default synthetic GPs reproduce DREES' published 2018 national figures (ER n° 1144).

A national diagnosis with the default options (crow-fly travel, raw population): the
population-weighted mean APL and the share of the population in « sous-dotée » communes
(APL ≤ 2.5) stay within one point of DREES 2018 — 3.93 consultations a year per inhabitant
and 5.7 % (Legendre, Études et Résultats n° 1144, 2020).
"""

from __future__ import annotations

import pytest

from maillage.diagnosis.parameters import DiagnosisParameters
from maillage.diagnosis.pipeline import run_diagnosis

DREES_2018_MEAN_APL = 3.93
DREES_2018_SOUS_DOTEE_SHARE = 5.7  # % of the population


@pytest.fixture(scope="module")
def national():
    return run_diagnosis(DiagnosisParameters(region="all"))


@pytest.mark.slow
def test_share_of_population_in_sous_dotee_communes_is_drees_2018(national) -> None:
    table = national.communes
    population = table.population.fillna(0.0)
    share = 100 * population[table.classe == "sous-dotee"].sum() / population.sum()
    assert national.synthetic
    assert share == pytest.approx(DREES_2018_SOUS_DOTEE_SHARE, abs=1.0)


@pytest.mark.slow
def test_national_mean_apl_is_drees_2018(national) -> None:
    # One point of APL would be a quarter of its value: hold the mean to a tenth.
    assert national.summary["mean_access"] == pytest.approx(DREES_2018_MEAN_APL, abs=0.1)
