"""Swap scores equal the objective change of each exchange; the search only ever improves."""

from __future__ import annotations

import numpy as np
import pytest
from planning_instances import CUTOFF, geometric, random_matrix, subset_value, to_pairs

from maillage.planning.greedy import greedy
from maillage.planning.problem import PlanningProblem
from maillage.planning.swap import coverage_scores, improve, median_scores

SCORES = {"coverage": coverage_scores, "pmedian": median_scores}


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("objective", ["coverage", "pmedian"])
def test_scores_are_the_objective_change_of_each_exchange(seed: int, objective: str) -> None:
    rng = np.random.default_rng(seed)
    minutes = random_matrix(rng, 14, 9)
    demand = rng.integers(0, 100, 14).astype(float)
    existing = np.zeros(9, dtype=bool)
    existing[rng.integers(9)] = True
    problem = PlanningProblem(
        demand, to_pairs(minutes), 3, CUTOFF, objective=objective, existing=existing
    )
    picks = rng.choice(np.flatnonzero(~existing), 3, replace=False)
    is_open = existing.copy()
    is_open[picks] = True
    score = SCORES[objective](problem, picks, is_open)
    before = subset_value(minutes, demand, is_open, objective)
    sign = 1.0 if objective == "coverage" else -1.0
    for entrant in np.flatnonzero(~is_open):
        for slot, leaver in enumerate(picks):
            after_open = is_open.copy()
            after_open[[entrant, leaver]] = [True, False]
            after = subset_value(minutes, demand, after_open, objective)
            assert score[entrant, slot] == pytest.approx(sign * (after - before), abs=1e-6)


@pytest.mark.parametrize("seed", range(3))
def test_median_swaps_improve_the_greedy_and_keep_p(seed: int) -> None:
    demand, pairs = geometric(300, seed)
    problem = PlanningProblem(demand, pairs, 15, CUTOFF, objective="pmedian")
    start = greedy(problem)
    picks = improve(problem, start, max_rounds=100)
    assert len(np.unique(picks)) == problem.p

    def cost(sites: np.ndarray) -> float:
        r = problem.reach
        nearest = np.full(problem.n_demand, problem.penalty)
        k = np.isin(r.destination, sites)
        np.minimum.at(nearest, r.origin[k], r.minutes[k])
        return float(demand @ nearest)

    assert cost(picks) < cost(start)
