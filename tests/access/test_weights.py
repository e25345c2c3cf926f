from __future__ import annotations

import numpy as np
import pytest
from pysal_oracle import gravity_fn, step_fn

from maillage.access.weights import GravityWeights, StepWeights, gravity_weights


def test_parse_accepts_fractions_and_any_order():
    steps = StepWeights.parse("20:1/3, 10:1,15: 2/3")
    assert steps.bounds == (10.0, 15.0, 20.0)
    assert steps.values == pytest.approx((1.0, 2 / 3, 1 / 3), rel=1e-15)
    assert steps.cutoff == 20.0


@pytest.mark.parametrize("text", ["", "10", "10:a", "10:1,10:0.5", "0:1", "10:-1", "10:1/0"])
def test_parse_rejects_malformed_steps(text):
    with pytest.raises(ValueError):
        StepWeights.parse(text)


def test_step_bounds_are_inclusive_like_pysal():
    steps = StepWeights.parse("10:1,15:0.6667,20:0.3333")
    minutes = np.array([0.0, 9.99, 10.0, 10.01, 15.0, 15.5, 20.0, 20.01, 60.0, np.inf])
    reference = step_fn(steps.as_dict())
    np.testing.assert_array_equal(steps(minutes), [reference(m) for m in minutes])
    np.testing.assert_array_equal(
        steps(minutes), [1, 1, 1, 0.6667, 0.6667, 0.3333, 0.3333, 0, 0, 0]
    )
    assert steps(np.array([np.nan]))[0] == 0.0


def test_gravity_matches_pysal_within_cutoff_and_is_zero_beyond():
    weights = gravity_weights(beta=1.5, cutoff=20.0)
    minutes = np.array([0.0, 0.5, 1.0, 7.0, 20.0, 20.5])
    reference = gravity_fn(scale=1, alpha=-1.5, min_dist=1)
    expected = [reference(m) for m in minutes[:-1]] + [0.0]
    np.testing.assert_allclose(weights(minutes), expected, rtol=1e-15)


def test_gravity_rejects_non_positive_parameters():
    with pytest.raises(ValueError):
        GravityWeights(beta=0.0, cutoff=20.0)
