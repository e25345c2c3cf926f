"""A Lagrangian bound for the coverage and p-median models, certified however large they are.

Relaxing the demand rows of the model (coverage: ``y_i ≤ Σ_{j∈N(i)} x_j`` with multipliers
μ_i ≥ 0; p-median: ``Σ_j z_ij + u_i = 1`` with free λ_i) leaves a problem that splits by
site: each site is worth a sum over its catchment and the best ``p`` open. The multipliers
follow subgradient optimisation with Polyak's step (Held, Wolfe & Crowder, "Validation of
subgradient optimization", Mathematical Programming 6, 1974; for these two models Daskin,
*Network and Discrete Location*, 2nd ed., 2013, ch. 4–5). An iteration is a few vectorised
passes over the pairs within reach, so the bound comes within seconds where the national
LP can take longer than the whole time limit.

The site subproblem keeps only "p new sites, the existing ones open": dropping quotas,
budget and capacity only loosens the relaxation, so the bound holds for every model (it
reaches the LP bound for uncapacitated models without quotas and is looser otherwise).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from .problem import PlanningProblem
from .progress import Progress
from .solution import relative_gap

#: Halve the step's scale after this many iterations without a better bound.
PATIENCE = 20
#: Stop once the step's scale is below this: the multipliers hardly move any more.
MIN_SCALE = 1e-3
MAX_ITERATIONS = 3_000
#: Every this many iterations, the subproblem's sites are evaluated as a plan.
PRIMAL_EVERY = 5


@dataclass(frozen=True)
class LagrangianResult:
    """The best bound proved, the best plan met on the way (or the start) and its value;
    ``multipliers`` and ``scale`` let a later call resume where this one stopped."""

    bound: float
    open: np.ndarray
    objective: float
    iterations: int
    multipliers: np.ndarray
    scale: float


def lagrangian_bound(
    problem: PlanningProblem,
    start: np.ndarray,
    start_value: float,
    deadline: float,
    mip_gap: float,
    value: Callable[[np.ndarray], float] | None = None,
    on_progress: Progress | None = None,
    resume: LagrangianResult | None = None,
) -> LagrangianResult:
    """Improve the bound until ``deadline`` (``time.perf_counter()``), convergence, or a gap
    within ``mip_gap`` of the best plan. ``value`` evaluates a set of open sites; given, the
    subproblem's sets are tried as plans (only valid when they are feasible plans).
    ``resume`` continues from an earlier call's multipliers, step scale and bound."""
    relaxation = _relaxation(problem)
    sign = 1.0 if problem.maximise else -1.0
    best_open, best_value = start, start_value
    bound = relaxation.trivial
    scale, stale, iterations = 2.0, 0, 0
    if resume is not None:
        relaxation.multipliers = resume.multipliers
        bound, scale = resume.bound, resume.scale
    began = time.perf_counter()
    while iterations < MAX_ITERATIONS and scale >= MIN_SCALE:
        now = time.perf_counter()
        if now >= deadline or relative_gap(best_value, bound) <= mip_gap:
            break
        iterations += 1
        dual, open_sites, subgradient = relaxation.step()
        if sign * dual < sign * bound:
            bound, stale = dual, 0
        else:
            stale += 1
            if stale >= PATIENCE:
                scale, stale = scale / 2.0, 0
        if value is not None and iterations % PRIMAL_EVERY == 1:
            found = value(open_sites)
            if sign * found > sign * best_value:
                best_open, best_value = open_sites, found
        norm = float(subgradient @ subgradient)
        if norm == 0.0:
            break
        relaxation.move(scale * abs(dual - best_value) / norm * subgradient)
        if on_progress is not None and iterations % PRIMAL_EVERY == 0:
            on_progress("lagrangian", min((now - began) / max(deadline - began, 1e-9), 1.0))
    return LagrangianResult(bound, best_open, best_value, iterations, relaxation.multipliers, scale)


class _Relaxation:
    """The pairs within reach whose origin has demand, and the site subproblem they share."""

    multipliers: np.ndarray
    trivial: float  # the bound before any iteration

    def __init__(self, problem: PlanningProblem) -> None:
        r = problem.reach
        keep = problem.demand[r.origin] > 0
        self.o, self.d, self.m = r.origin[keep], r.destination[keep], r.minutes[keep]
        self.w = problem.demand
        self.n_demand, self.n_cand = problem.n_demand, problem.n_candidates
        self.existing = np.asarray(problem.existing, dtype=bool)
        self.new = np.flatnonzero(~self.existing)
        self.p = problem.p
        self.active = np.bincount(self.o, minlength=self.n_demand) > 0

    def pick(self, worth: np.ndarray) -> np.ndarray:
        """Existing sites and the ``p`` new ones of largest ``worth``."""
        open_sites = self.existing.copy()
        values = worth[self.new]
        top = np.argpartition(-values, self.p - 1)[: self.p] if self.p < len(values) else None
        open_sites[self.new if top is None else self.new[top]] = True
        return open_sites


class _CoverageRelaxation(_Relaxation):
    """max Σ w_i y_i − Σ μ_i (y_i − Σ_{j∈N(i)} x_j): an upper bound for every μ ≥ 0."""

    def __init__(self, problem: PlanningProblem) -> None:
        super().__init__(problem)
        self.multipliers = np.zeros(self.n_demand)
        self.trivial = float(self.w[self.active].sum())

    def step(self) -> tuple[float, np.ndarray, np.ndarray]:
        worth = np.bincount(self.d, weights=self.multipliers[self.o], minlength=self.n_cand)
        open_sites = self.pick(worth)
        y = self.active & (self.w > self.multipliers)
        kept = np.maximum(self.w - self.multipliers, 0.0)[self.active].sum()
        dual = float(kept + worth[open_sites].sum())
        reached = np.bincount(self.o, weights=open_sites[self.d], minlength=self.n_demand)
        return dual, open_sites, (y - reached) * self.active

    def move(self, change: np.ndarray) -> None:
        # The bound falls along −(subgradient of the dual): μ rises where y exceeds coverage.
        self.multipliers = np.maximum(self.multipliers + change, 0.0)


class _MedianRelaxation(_Relaxation):
    """min Σ w_i d_ij z_ij + Σ w_i P u_i + Σ λ_i (1 − Σ_j z_ij − u_i): a lower bound for all λ.

    Demand no candidate reaches pays the penalty whatever the plan: a constant.
    """

    def __init__(self, problem: PlanningProblem) -> None:
        super().__init__(problem)
        self.penalty = problem.penalty
        nearest = np.full(self.n_demand, self.penalty)
        np.minimum.at(nearest, self.o, self.m)
        # Everyone at their nearest candidate: the bound the multipliers start from.
        self.multipliers = np.where(self.active, self.w * nearest, 0.0)
        self.constant = float(self.w[~self.active].sum() * self.penalty)
        self.trivial = float(self.multipliers.sum()) + self.constant

    def step(self) -> tuple[float, np.ndarray, np.ndarray]:
        reduced = self.w[self.o] * self.m - self.multipliers[self.o]
        gain = np.minimum(reduced, 0.0)
        worth = -np.bincount(self.d, weights=gain, minlength=self.n_cand)
        open_sites = self.pick(worth)
        unserved = self.active & (self.w * self.penalty - self.multipliers < 0)
        dual = (
            float(self.multipliers[self.active].sum())
            + float(np.minimum(self.w * self.penalty - self.multipliers, 0.0)[self.active].sum())
            - float(worth[open_sites].sum())
            + self.constant
        )
        assigned = np.bincount(
            self.o, weights=(reduced < 0) & open_sites[self.d], minlength=self.n_demand
        )
        return dual, open_sites, (1.0 - assigned - unserved) * self.active

    def move(self, change: np.ndarray) -> None:
        # The bound rises along the subgradient: λ grows where demand is left unassigned.
        self.multipliers = self.multipliers + change


def _relaxation(problem: PlanningProblem) -> _CoverageRelaxation | _MedianRelaxation:
    if problem.objective == "pmedian":
        return _MedianRelaxation(problem)
    return _CoverageRelaxation(problem)
