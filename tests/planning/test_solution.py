"""Certificates, re-sequencing and progress reports on mid-sized geometric instances."""

from __future__ import annotations

import numpy as np
import pytest
from planning_instances import CUTOFF, geometric

from maillage.planning.problem import PlanningProblem
from maillage.planning.solve import evaluate, solve


@pytest.fixture(scope="module")
def city() -> tuple[np.ndarray, object]:
    return geometric(400, seed=3)


@pytest.mark.parametrize("objective", ["coverage", "pmedian"])
def test_bound_certifies_the_objective(city, objective: str) -> None:
    demand, pairs = city
    problem = PlanningProblem(demand, pairs, 12, CUTOFF, objective=objective)
    solution = solve(problem, mip_gap=1e-6)
    if problem.maximise:
        assert solution.bound >= solution.objective - 1e-6
        assert solution.objective >= solution.start_objective
    else:
        assert solution.bound <= solution.objective + 1e-6
        assert solution.objective <= solution.start_objective
    assert solution.gap == pytest.approx(
        abs(solution.bound - solution.objective) / solution.objective
    )
    assert solution.status == "Optimal"
    assert solution.gap <= 1e-6
    open_sites = np.zeros(len(demand), dtype=bool)
    open_sites[solution.sites] = True
    assert evaluate(problem, open_sites) == pytest.approx(solution.objective)


@pytest.mark.parametrize("time_limit", [0.01, 0.3, 3.0])
def test_time_limited_solution_is_feasible_and_any_bound_valid(time_limit: float) -> None:
    demand, pairs = geometric(3000, seed=5, side_km=150.0)
    problem = PlanningProblem(demand, pairs, 40, CUTOFF, objective="pmedian")
    solution = solve(problem, time_limit=time_limit)
    assert len(set(solution.sites)) == 40
    if solution.bound is None:
        assert (solution.solver, solution.gap) == ("greedy", None)
        assert solution.objective == solution.start_objective
    else:
        assert solution.bound <= solution.objective <= solution.start_objective
        assert solution.gap == pytest.approx(
            (solution.objective - solution.bound) / solution.objective
        )


def test_sequence_explains_the_objective(city) -> None:
    demand, pairs = city
    existing = np.zeros(len(demand), dtype=bool)
    existing[[5, 50, 150]] = True
    problem = PlanningProblem(demand, pairs, 10, CUTOFF, existing=existing)
    solution = solve(problem)
    steps = solution.sequence
    assert [s.rank for s in steps] == list(range(1, 11))
    assert [s.site for s in steps] == list(solution.sites)
    gains = np.array([s.gain for s in steps])
    assert np.all(np.diff(gains) <= 1e-9)
    baseline = evaluate(problem, existing)
    assert baseline + gains.sum() == pytest.approx(solution.objective)
    assert [s.covered for s in steps] == pytest.approx(gains)
    counted = solve(problem, population=np.ones(len(demand))).sequence
    assert all(float(s.covered).is_integer() for s in counted)


def test_greedy_only_has_no_certificate(city) -> None:
    demand, pairs = city
    solution = solve(PlanningProblem(demand, pairs, 10, CUTOFF), method="greedy")
    assert (solution.solver, solution.bound, solution.gap) == ("greedy", None, None)
    assert "mip" not in solution.times


def test_progress_reports_each_stage(city) -> None:
    demand, pairs = city
    seen: list[tuple[str, float | None]] = []
    solve(PlanningProblem(demand, pairs, 10, CUTOFF), on_progress=lambda s, f: seen.append((s, f)))
    stages = [stage for stage, _ in seen]
    expected = ("greedy", "swap", "build", "lp", "restricted", "sequence", "done")
    order = [stages.index(stage) for stage in expected]
    assert order == sorted(order)
    assert all(f is None or 0.0 <= f <= 1.0 for _, f in seen)
    assert seen[-1] == ("done", 1.0)
