"""Window search: feasible, better than the greedy, exact when one window holds every site."""

from __future__ import annotations

import time

import numpy as np
import pytest
from planning_instances import brute_force, geometric, random_matrix, subset_value, to_pairs

from maillage.planning.greedy import greedy
from maillage.planning.problem import PlanningProblem
from maillage.planning.windows import improve_windows


def covered(problem: PlanningProblem, open_sites: np.ndarray) -> float:
    r = problem.reach
    reached = np.zeros(problem.n_demand, dtype=bool)
    reached[r.origin[open_sites[r.destination]]] = True
    return float(problem.demand[reached].sum())


@pytest.mark.parametrize("seed", range(3))
def test_keeps_existing_sites_and_p_and_improves_the_greedy(seed: int) -> None:
    demand, pairs = geometric(400, seed)
    existing = np.zeros(400, dtype=bool)
    existing[np.random.default_rng(seed).choice(400, 5, replace=False)] = True
    problem = PlanningProblem(demand, pairs, 25, 10.0, existing=existing)
    start = existing.copy()
    start[greedy(problem)] = True
    found = improve_windows(problem, start, time.perf_counter() + 30)
    assert found[existing].all()
    assert (found & ~existing).sum() == problem.p
    assert covered(problem, found) > covered(problem, start)  # the greedy is not optimal here


def test_reaches_the_optimum_when_a_window_holds_every_site() -> None:
    improved = 0
    for seed in range(8):
        rng = np.random.default_rng(seed)
        minutes = random_matrix(rng, 12, 9)
        demand = rng.integers(1, 100, 12).astype(float)
        problem = PlanningProblem(demand, to_pairs(minutes), 3, 10.0)
        start = np.zeros(9, dtype=bool)
        start[:3] = True
        optimum = brute_force(minutes, demand, 3, "coverage")
        found = improve_windows(problem, start, time.perf_counter() + 30)
        assert found.sum() == 3
        assert subset_value(minutes, demand, found, "coverage") == pytest.approx(optimum)
        improved += subset_value(minutes, demand, start, "coverage") < optimum - 1e-9
    assert improved  # some starts were not optimal, so the search had work to do


def test_stops_once_the_value_is_enough() -> None:
    demand, pairs = geometric(300, 7)
    problem = PlanningProblem(demand, pairs, 20, 10.0)
    start = np.zeros(300, dtype=bool)
    start[greedy(problem)] = True
    value = covered(problem, start)
    began = time.perf_counter()
    found = improve_windows(problem, start, began + 60, enough=value)
    assert (found == start).all()
    assert time.perf_counter() - began < 1.0
