"""LSCP and p-center against spopt (PuLP + CBC) on random small instances, and their edges."""

from __future__ import annotations

import numpy as np
import pulp
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from planning_instances import CUTOFF, random_matrix, to_pairs
from spopt.locate import LSCP, PCenter

from maillage.planning.covering import unreachable, worst_minutes
from maillage.planning.errors import InfeasibleError
from maillage.planning.problem import PlanningProblem
from maillage.planning.solve import solve

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning:pulp.*")


def cbc() -> pulp.LpSolver:
    return pulp.PULP_CBC_CMD(msg=False)


@st.composite
def instances(draw, dense: bool):
    """Cost-matrix instances: minutes (NaN = no road within reach unless ``dense``), demand
    (some origins without any), existing sites and a number of new sites."""
    seed = draw(st.integers(0, 2**32 - 1))
    n_demand, n_candidates = draw(st.integers(3, 30)), draw(st.integers(3, 15))
    rng = np.random.default_rng(seed)
    minutes = random_matrix(rng, n_demand, n_candidates)
    if dense:
        minutes = np.round(rng.uniform(0.0, 25.0, minutes.shape), 1)
    demand = rng.integers(0, 1000, n_demand).astype(float)
    demand[rng.random(n_demand) < 0.15] = 0.0
    existing = np.zeros(n_candidates, dtype=bool)
    existing[rng.choice(n_candidates, draw(st.integers(0, 2)), replace=False)] = True
    p = draw(st.integers(1, n_candidates - int(existing.sum())))
    return minutes, demand, existing, p


def predefined(existing: np.ndarray) -> np.ndarray | None:
    return existing.astype(int) if existing.any() else None


@settings(max_examples=25, deadline=None)
@given(instances(dense=False))
def test_lscp_equals_spopt_lscp(case) -> None:
    minutes, demand, existing, _ = case
    n_new = int((~existing).sum())
    problem = PlanningProblem(
        demand, to_pairs(minutes), n_new, CUTOFF, objective="lscp", existing=existing
    )
    ours = solve(problem)
    within = np.nan_to_num(minutes, nan=np.inf) <= CUTOFF
    expected_unreachable = (demand > 0) & ~within.any(axis=1)
    assert np.array_equal(unreachable(problem), expected_unreachable)
    # spopt covers every row it is given: the origins with demand that some site reaches.
    rows = (demand > 0) & ~expected_unreachable
    if not rows.any():
        assert ours.objective == 0 and len(ours.sites) == 0
        return
    model = LSCP.from_cost_matrix(
        np.nan_to_num(minutes[rows], nan=1e6),
        service_radius=CUTOFF,
        predefined_facilities_arr=predefined(existing),
    ).solve(cbc())
    assert ours.objective == model.problem.objective.value() - existing.sum()
    assert len(ours.sites) == ours.objective
    assert ours.gap == 0.0 and ours.bound == ours.objective
    open_sites = existing.copy()
    open_sites[ours.sites] = True
    assert (within[rows][:, open_sites]).any(axis=1).all()


@settings(max_examples=25, deadline=None)
@given(instances(dense=True))
def test_pcenter_equals_spopt_pcenter(case) -> None:
    minutes, demand, existing, p = case
    demand = np.maximum(demand, 1.0)  # spopt's p-center weighs every client alike
    problem = PlanningProblem(
        demand, to_pairs(minutes), p, 100.0, objective="pcenter", existing=existing
    )
    ours = solve(problem)
    model = PCenter.from_cost_matrix(
        minutes,
        p_facilities=p + int(existing.sum()),
        predefined_facilities_arr=predefined(existing),
    ).solve(cbc())
    assert ours.objective == pytest.approx(model.problem.objective.value(), abs=1e-9)
    assert ours.gap == 0.0 and ours.bound == pytest.approx(ours.objective)
    assert len(ours.sites) == p and not existing[ours.sites].any()
    open_sites = existing.copy()
    open_sites[ours.sites] = True
    assert worst_minutes(problem, open_sites) == ours.objective


def test_pcenter_ignores_and_reports_unreachable_demand() -> None:
    minutes = np.array([[1.0, 9.0], [8.0, 2.0], [np.nan, np.nan], [4.0, 3.0]])
    demand = np.array([10.0, 10.0, 50.0, 0.0])
    problem = PlanningProblem(demand, to_pairs(minutes), 1, CUTOFF, objective="pcenter")
    assert unreachable(problem).tolist() == [False, False, True, False]
    # One site: candidate 0 leaves origin 1 at 8 min, candidate 1 leaves origin 0 at 9.
    assert solve(problem).objective == 8.0


def test_too_few_sites_are_refused_with_the_number_needed() -> None:
    minutes = np.array([[1.0, np.nan, np.nan], [np.nan, 1.0, np.nan], [np.nan, np.nan, 1.0]])
    demand = np.ones(3)
    with pytest.raises(InfeasibleError, match="au moins 3"):
        solve(PlanningProblem(demand, to_pairs(minutes), 2, CUTOFF, objective="pcenter"))
    with pytest.raises(InfeasibleError, match="au moins 3"):
        solve(PlanningProblem(demand, to_pairs(minutes), 2, CUTOFF, objective="lscp"))


def test_existing_care_needs_no_new_site() -> None:
    minutes = np.array([[1.0, 5.0], [2.0, 12.0]])
    existing = np.array([True, False])
    problem = PlanningProblem(
        np.ones(2), to_pairs(minutes), 1, CUTOFF, objective="lscp", existing=existing
    )
    solution = solve(problem)
    assert solution.objective == 0 and len(solution.sites) == 0 and solution.gap == 0.0
