"""The floating-catchment engine: golden cases by hand, conservation, and PySAL as oracle."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pysal_oracle import gravity_fn, pysal_access, step_fn

from maillage.access import fca
from maillage.access.apl import DREES_STEPS, apl
from maillage.access.weights import StepWeights
from maillage.travel.model import TravelPairs

RTOL = 1e-9


def make_pairs(n_o: int, n_d: int, triples: list[tuple[int, int, float]]) -> TravelPairs:
    o, d, m = (np.array(v) for v in zip(*triples, strict=True))
    return TravelPairs(n_o, n_d, o.astype(np.int32), d.astype(np.int32), m.astype(float))


# Two villages, two practices. Weights (DREES steps): o0→d0 5 min: 1, o0→d1 12 min: 2/3,
# o1→d1 18 min: 1/3, o1→d0 25 min: 0. Weighted demand: d0 = 100, d1 = 100·2/3 + 300/3 = 500/3,
# so R = (2/100, 1/(500/3)) = (0.02, 0.006); A0 = 0.02 + 2/3·0.006 = 0.024, A1 = 0.006/3.
GOLDEN = make_pairs(2, 2, [(0, 0, 5.0), (0, 1, 12.0), (1, 1, 18.0), (1, 0, 25.0)])
DEMAND = np.array([100.0, 300.0])
SUPPLY = np.array([2.0, 1.0])


def test_e2sfca_golden_case_by_hand():
    access = fca.e2sfca(DEMAND, SUPPLY, GOLDEN, DREES_STEPS)
    np.testing.assert_allclose(access, [0.024, 0.002], rtol=1e-12)
    assert DEMAND @ access == pytest.approx(SUPPLY.sum())


def test_two_sfca_golden_case_by_hand():
    # Catchment 15: o0 sees d0 and d1, o1 nothing. d0: 2/100, d1: 1/100.
    access = fca.two_sfca(DEMAND, SUPPLY, GOLDEN, catchment=15)
    np.testing.assert_allclose(access, [0.03, 0.0], rtol=1e-12)


def test_gravity_golden_case_by_hand():
    # beta 1, cutoff 20: w00 = 1/5, w01 = 1/12, w11 = 1/18.
    access = fca.gravity(DEMAND, SUPPLY, GOLDEN, beta=1.0, cutoff=20)
    r0, r1 = 2 / (100 / 5), 1 / (100 / 12 + 300 / 18)
    np.testing.assert_allclose(access, [r0 / 5 + r1 / 12, r1 / 18], rtol=1e-12)


def test_apl_is_e2sfca_with_drees_steps_in_acts():
    acts = SUPPLY * 4800
    np.testing.assert_allclose(apl(DEMAND, acts, GOLDEN), [0.024 * 4800, 0.002 * 4800])


def test_supply_nobody_can_reach_contributes_nothing():
    pairs = make_pairs(2, 2, [(0, 0, 5.0), (1, 1, 5.0)])
    access = fca.e2sfca(np.array([100.0, 0.0]), np.array([1.0, 7.0]), pairs, DREES_STEPS)
    np.testing.assert_array_equal(access, [0.01, 0.0])


@st.composite
def instances(draw):
    n_o = draw(st.integers(1, 25))
    n_d = draw(st.integers(1, 15))
    cells = draw(
        st.lists(
            st.tuples(st.integers(0, n_o - 1), st.integers(0, n_d - 1)),
            min_size=1,
            max_size=n_o * n_d,
            unique=True,
        )
    )
    # Exact step bounds appear often, to pin down their inclusivity.
    minutes = st.one_of(
        st.floats(0.1, 30.0, allow_nan=False), st.sampled_from([10.0, 15.0, 20.0, 30.0])
    )
    triples = [(o, d, draw(minutes)) for o, d in cells]
    demand = np.array(draw(st.lists(st.floats(1.0, 1e5), min_size=n_o, max_size=n_o)))
    supply = np.array(draw(st.lists(st.floats(0.0, 50.0), min_size=n_d, max_size=n_d)))
    return demand, supply, make_pairs(n_o, n_d, triples)


@settings(max_examples=60, deadline=None)
@given(instances())
def test_e2sfca_equals_pysal(instance):
    demand, supply, pairs = instance
    steps = StepWeights.parse("10:1,15:2/3,20:1/3")
    ours = fca.e2sfca(demand, supply, pairs.within(steps.cutoff), steps)
    theirs = pysal_access(
        demand, supply, pairs, "enhanced_two_stage_fca", steps.cutoff, step_fn(steps.as_dict())
    )
    np.testing.assert_allclose(ours, theirs, rtol=RTOL, atol=0)


@settings(max_examples=40, deadline=None)
@given(instances(), st.sampled_from([10.0, 15.0, 20.0]))
def test_two_sfca_equals_pysal(instance, catchment):
    demand, supply, pairs = instance
    ours = fca.two_sfca(demand, supply, pairs, catchment)
    theirs = pysal_access(demand, supply, pairs, "two_stage_fca", catchment)
    np.testing.assert_allclose(ours, theirs, rtol=RTOL, atol=0)


@settings(max_examples=40, deadline=None)
@given(instances(), st.floats(0.5, 2.5))
def test_gravity_equals_pysal(instance, beta):
    demand, supply, pairs = instance
    ours = fca.gravity(demand, supply, pairs, beta=beta, cutoff=20.0)
    theirs = pysal_access(
        demand, supply, pairs, "two_stage_fca", 20.0, gravity_fn(scale=1, alpha=-beta, min_dist=1)
    )
    np.testing.assert_allclose(ours, theirs, rtol=RTOL, atol=0)


@settings(max_examples=60, deadline=None)
@given(instances())
def test_conservation(instance):
    demand, supply, pairs = instance
    access = fca.e2sfca(demand, supply, pairs, DREES_STEPS)
    reached = np.unique(pairs.destination[pairs.minutes <= DREES_STEPS.cutoff])
    assert demand @ access == pytest.approx(supply[reached].sum(), rel=1e-9, abs=1e-12)
