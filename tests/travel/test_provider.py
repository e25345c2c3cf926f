from __future__ import annotations

from pathlib import Path

import pytest

from maillage.travel.crowfly import DEFAULT_CIRCUITY, DEFAULT_SPEED_KMH, CrowFly
from maillage.travel.matrix import MatrixFile
from maillage.travel.osrm import OsrmTable
from maillage.travel.provider import provider_from_option


def test_crow_fly_with_defaults_and_overrides():
    assert provider_from_option("crow-fly") == CrowFly(DEFAULT_SPEED_KMH, DEFAULT_CIRCUITY)
    assert provider_from_option("crow-fly", speed_kmh=50, circuity=1.2) == CrowFly(50, 1.2)


def test_matrix_and_osrm_share_the_intra_commune_model():
    matrix = provider_from_option("matrix:times.csv", speed_kmh=45)
    assert isinstance(matrix, MatrixFile) and matrix.path == Path("times.csv")
    assert matrix.crow_fly.speed_kmh == 45
    osrm = provider_from_option("osrm:http://localhost:5000", circuity=1.4)
    assert isinstance(osrm, OsrmTable) and osrm.url == "http://localhost:5000"
    assert osrm.crow_fly.circuity == 1.4


@pytest.mark.parametrize("text", ["", "car", "matrix:", "osrm:localhost:5000", "crow-fly:x"])
def test_unknown_option_is_refused(text):
    with pytest.raises(ValueError, match="--travel"):
        provider_from_option(text)
