"""The Lagrangian bound is a bound, and a plan stopped by its time limit still reports one."""

from __future__ import annotations

import time

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from planning_instances import CUTOFF, brute_force, geometric, random_matrix, to_pairs

from maillage.planning.lagrangian import lagrangian_bound
from maillage.planning.problem import PlanningProblem
from maillage.planning.solution import relative_gap
from maillage.planning.solve import evaluate, solve


@settings(max_examples=20, deadline=None)
@given(
    st.integers(0, 2**32 - 1),
    st.sampled_from(["coverage", "pmedian"]),
    st.integers(1, 3),
)
def test_bound_never_crosses_the_optimum(seed: int, objective: str, p: int) -> None:
    rng = np.random.default_rng(seed)
    minutes = random_matrix(rng, 9, 6)
    demand = rng.integers(0, 100, 9).astype(float)
    problem = PlanningProblem(demand, to_pairs(minutes), p, CUTOFF, objective=objective)
    optimum = brute_force(minutes, demand, p, objective)
    start = np.zeros(6, dtype=bool)
    start[:p] = True
    result = lagrangian_bound(
        problem,
        start,
        evaluate(problem, start),
        time.perf_counter() + 5.0,
        0.0,
        value=lambda sites: evaluate(problem, sites),
    )
    if problem.maximise:
        assert result.bound >= optimum - 1e-6 and result.objective <= optimum + 1e-6
    else:
        assert result.bound <= optimum + 1e-6 and result.objective >= optimum - 1e-6
    assert result.objective == pytest.approx(evaluate(problem, result.open))
    assert result.open.sum() == p


@pytest.mark.parametrize("objective", ["pmedian", "coverage"])
def test_time_limit_still_reports_a_certified_bound(objective: str) -> None:
    demand, pairs = geometric(2500, 3, side_km=140.0)
    problem = PlanningProblem(demand, pairs, 40, CUTOFF, objective=objective)
    solution = solve(problem, time_limit=0.01)
    assert solution.bound is not None and solution.gap is not None
    assert solution.solver == "highs"
    if problem.maximise:
        assert solution.bound >= solution.objective
    else:
        assert solution.bound <= solution.objective
    assert solution.gap == pytest.approx(relative_gap(solution.objective, solution.bound))
    assert solution.gap < 0.05
