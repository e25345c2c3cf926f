"""spopt (PuLP + CBC) as an independent oracle on random small instances."""

from __future__ import annotations

import numpy as np
import pulp
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from planning_instances import CUTOFF, random_matrix, to_pairs
from spopt.locate import MCLP, PMedian

from maillage.planning.problem import PlanningProblem
from maillage.planning.solve import solve

ABSENT = 1e6
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning:pulp.*")


@st.composite
def instances(draw):
    seed = draw(st.integers(0, 2**32 - 1))
    n_demand, n_candidates = draw(st.integers(3, 25)), draw(st.integers(3, 15))
    rng = np.random.default_rng(seed)
    minutes = random_matrix(rng, n_demand, n_candidates)
    demand = rng.integers(0, 1000, n_demand).astype(float)
    n_existing = draw(st.integers(0, 2))
    existing = np.zeros(n_candidates, dtype=bool)
    existing[rng.choice(n_candidates, n_existing, replace=False)] = True
    p = draw(st.integers(1, n_candidates - n_existing))
    return minutes, demand, existing, p


def cbc() -> pulp.LpSolver:
    return pulp.PULP_CBC_CMD(msg=False)


@settings(max_examples=15, deadline=None)
@given(instances())
def test_coverage_equals_spopt_mclp(case) -> None:
    minutes, demand, existing, p = case
    ours = solve(PlanningProblem(demand, to_pairs(minutes), p, CUTOFF, existing=existing))
    model = MCLP.from_cost_matrix(
        np.nan_to_num(minutes, nan=ABSENT),
        demand,
        service_radius=CUTOFF,
        p_facilities=p + existing.sum(),
        predefined_facilities_arr=existing.astype(int) if existing.any() else None,
    ).solve(cbc())
    assert np.isclose(ours.objective, model.problem.objective.value(), rtol=1e-9)
    assert ours.gap <= 1e-4


@settings(max_examples=15, deadline=None)
@given(instances())
def test_pmedian_equals_spopt_pmedian(case) -> None:
    minutes, demand, existing, p = case
    penalty = CUTOFF + 10
    problem = PlanningProblem(
        demand, to_pairs(minutes), p, CUTOFF, objective="pmedian", existing=existing
    )
    ours = solve(problem)
    costs = np.where(np.nan_to_num(minutes, nan=ABSENT) <= CUTOFF, minutes, penalty)
    model = PMedian.from_cost_matrix(
        costs,
        demand,
        p_facilities=p + existing.sum(),
        predefined_facilities_arr=existing.astype(int) if existing.any() else None,
    ).solve(cbc())
    assert np.isclose(ours.objective, model.problem.objective.value(), rtol=1e-7)
