from __future__ import annotations

import numpy as np
import pytest

from maillage.access import zoning
from maillage.travel.model import TravelPairs


def test_classify_bounds():
    classes = zoning.classify(np.array([1.0, 2.5, 2.51, 4.0, 4.01, np.nan]), (2.5, 4.0))
    assert classes.tolist() == [
        "sous-dotee",
        "sous-dotee",
        "intermediaire",
        "intermediaire",
        "dotee",
        "",
    ]


def test_classify_without_thresholds_is_empty():
    assert zoning.classify(np.array([1.0, 9.0]), None).tolist() == ["", ""]


def test_published_thresholds_only_for_gp_apl():
    assert zoning.default_thresholds("apl", "generaliste") == (2.5, 4.0)
    assert zoning.default_thresholds("e2sfca", "generaliste") is None
    assert zoning.default_thresholds("apl", "infirmier") is None


def test_parse_thresholds():
    assert zoning.parse_thresholds("2.5, 4") == (2.5, 4.0)
    for bad in ("2.5", "4,2.5", "a,b", "1,2,3"):
        with pytest.raises(ValueError):
            zoning.parse_thresholds(bad)


def test_population_by_class_per_group():
    table = zoning.population_by_class(
        np.array([10.0, 20.0, 30.0, 40.0]),
        np.array(["dotee", "sous-dotee", "dotee", "dotee"]),
        np.array(["55", "55", "54", "55"]),
    )
    assert table.loc["55", "dotee"] == 50.0
    assert table.loc["55", "sous-dotee"] == 20.0
    assert table.loc["54", "sous-dotee"] == 0.0


def test_population_without_care():
    pairs = TravelPairs(
        3,
        2,
        np.array([0, 1, 1, 2], np.int32),
        np.array([0, 0, 1, 1], np.int32),
        np.array([5.0, 25.0, 20.0, 3.0]),
    )
    without = zoning.population_without_care(
        np.array([100.0, 200.0, 300.0]), pairs, np.array([True, False]), minutes=20
    )
    np.testing.assert_array_equal(without, [0.0, 200.0, 300.0])
