"""A region's values equal the national run's, border communes included."""

import numpy as np
import pytest

from maillage.diagnosis.parameters import DiagnosisParameters
from maillage.diagnosis.pipeline import run_diagnosis


@pytest.fixture(scope="module")
def national():
    return run_diagnosis(DiagnosisParameters(region="all")).communes.set_index("code_commune")


@pytest.mark.parametrize("area", [{"region": "44"}, {"department": "55"}, {"department": "2A"}])
def test_area_values_equal_national_values(national, area):
    local = run_diagnosis(DiagnosisParameters(**area)).communes.set_index("code_commune")
    reference = national.loc[local.index]
    np.testing.assert_allclose(local.access, reference.access, rtol=1e-12, equal_nan=True)
    assert (local.no_care == reference.no_care).all()


def test_national_run_covers_every_commune(national):
    assert len(national) > 34_000
    assert national.population.sum() > 60e6
