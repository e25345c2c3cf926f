"""Exact solutions equal the brute-force optimum; greedy ones are feasible and never better."""

from __future__ import annotations

import numpy as np
import pytest
from planning_instances import CUTOFF, brute_force, random_matrix, subset_value, to_pairs

from maillage.planning.problem import PlanningProblem
from maillage.planning.solve import solve

SEEDS = range(8)


def instance(seed: int, n_demand: int = 9, n_candidates: int = 7):
    rng = np.random.default_rng(seed)
    minutes = random_matrix(rng, n_demand, n_candidates)
    demand = rng.integers(1, 100, n_demand).astype(float)
    return rng, minutes, demand


def check(problem: PlanningProblem, minutes, demand, optimum: float, capacity=None) -> None:
    exact = solve(problem, time_limit=30)
    greedy = solve(problem, method="greedy")
    open_sites = problem.existing.copy()
    open_sites[exact.sites] = True
    assert len(exact.sites) == problem.p
    assert not problem.existing[exact.sites].any()
    assert exact.objective == pytest.approx(optimum, rel=1e-6)
    assert subset_value(
        minutes, demand, open_sites, problem.objective, capacity=capacity
    ) == pytest.approx(optimum, rel=1e-6)
    if problem.maximise:
        assert greedy.objective <= optimum + 1e-6
    else:
        assert greedy.objective >= optimum - 1e-6


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("objective", ["coverage", "pmedian"])
def test_matches_brute_force(seed: int, objective: str) -> None:
    _, minutes, demand = instance(seed)
    problem = PlanningProblem(demand, to_pairs(minutes), p=3, minutes=CUTOFF, objective=objective)
    check(problem, minutes, demand, brute_force(minutes, demand, 3, objective))


@pytest.mark.parametrize("seed", SEEDS)
def test_existing_sites_stay_open_and_do_not_count(seed: int) -> None:
    rng, minutes, demand = instance(seed)
    existing = np.zeros(7, dtype=bool)
    existing[rng.choice(7, 2, replace=False)] = True
    for objective in ("coverage", "pmedian"):
        problem = PlanningProblem(
            demand, to_pairs(minutes), 2, CUTOFF, objective=objective, existing=existing
        )
        optimum = brute_force(minutes, demand, 2, objective, existing=existing)
        check(problem, minutes, demand, optimum)


@pytest.mark.parametrize("seed", SEEDS)
def test_quotas_are_met(seed: int) -> None:
    _, minutes, demand = instance(seed)
    group = np.array(["A", "A", "A", "B", "B", "C", "C"])
    low, high = {"C": 1}, {"A": 1}

    def feasible(sites: np.ndarray) -> bool:
        return (group[sites] == "C").sum() >= 1 and (group[sites] == "A").sum() <= 1

    for objective in ("coverage", "pmedian"):
        problem = PlanningProblem(
            demand,
            to_pairs(minutes),
            3,
            CUTOFF,
            objective=objective,
            group=group,
            min_per_group=low,
            max_per_group=high,
        )
        optimum = brute_force(minutes, demand, 3, objective, feasible=feasible)
        check(problem, minutes, demand, optimum)
        for method in ("exact", "greedy"):
            assert feasible(solve(problem, method=method).sites)


@pytest.mark.parametrize("seed", SEEDS)
def test_budget_is_respected(seed: int) -> None:
    rng, minutes, demand = instance(seed)
    cost = rng.integers(1, 10, 7).astype(float)
    budget = float(np.sort(cost)[:3].sum() + 4)
    for objective in ("coverage", "pmedian"):
        problem = PlanningProblem(
            demand, to_pairs(minutes), 3, CUTOFF, objective=objective, cost=cost, budget=budget
        )
        optimum = brute_force(
            minutes, demand, 3, objective, feasible=lambda s: cost[s].sum() <= budget
        )
        check(problem, minutes, demand, optimum)
        for method in ("exact", "greedy"):
            assert cost[solve(problem, method=method).sites].sum() <= budget


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("objective", ["coverage", "pmedian"])
def test_capacity_matches_brute_force(seed: int, objective: str) -> None:
    _, minutes, demand = instance(seed, n_demand=7, n_candidates=6)
    capacity = float(demand.sum() / 5)
    problem = PlanningProblem(
        demand, to_pairs(minutes), 2, CUTOFF, objective=objective, capacity=capacity
    )
    optimum = brute_force(minutes, demand, 2, objective, capacity=capacity)
    check(problem, minutes, demand, optimum, capacity=capacity)
