"""The answer handed to users: the chosen sites in a meaningful order, with what they bring."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .gains import CoverageGains
from .greedy import lazy_order, opened_state
from .problem import PlanningProblem


@dataclass(frozen=True)
class Step:
    """One site of the re-sequenced plan.

    ``gain`` is the objective improvement it brings after the sites ranked before it (demand
    covered for ``coverage``, demand-weighted minutes saved for ``pmedian``); ``covered`` is
    the population (or demand) it newly brings within reach in that order. With a capacity,
    ``gain`` is the capacity heuristic's estimate (see :class:`.gains.CapacitatedGains`),
    since the optimal assignment of a prefix of the plan is not what the plan optimises.
    """

    rank: int
    site: int
    gain: float
    covered: float


@dataclass(frozen=True)
class Solution:
    """New sites (candidate indices, in rank order) with their objective and certificate.

    ``bound`` is the best bound proved — by HiGHS, the Lagrangian relaxation or, for
    p-center, a packing (None for a greedy-only answer); ``gap`` is
    ``|bound − objective| / |objective|`` as a fraction. ``times`` holds seconds spent in
    ``greedy``, ``swap``, ``build``, ``lagrangian``, ``lp``, ``restricted``, ``windows``,
    ``mip``, ``cover``, ``radius`` and ``sequence`` (the steps that ran); ``start_objective``
    is the value of the heuristic solution the MIP started from.
    """

    sites: np.ndarray
    objective: float
    bound: float | None
    gap: float | None
    solver: str
    status: str
    start_objective: float
    times: dict[str, float] = field(default_factory=dict)
    sequence: tuple[Step, ...] = ()


def resequence(
    problem: PlanningProblem, sites: np.ndarray, population: np.ndarray | None = None
) -> tuple[Step, ...]:
    """Order ``sites`` greedily by marginal gain, existing sites being open from the start.

    ``population`` (per origin; default: the problem's demand) measures ``covered``, so a
    plan weighted by deficit can still report the people each site reaches.
    """
    state = opened_state(problem)
    reached = CoverageGains(problem, population)
    for opened in np.flatnonzero(problem.existing):
        reached.add(int(opened))
    steps = []
    for rank, (site, gain) in enumerate(lazy_order(state, np.asarray(sites), len(sites)), 1):
        steps.append(Step(rank, site, float(gain), reached.gain(site)))
        reached.add(site)
    return tuple(steps)


def relative_gap(objective: float, bound: float) -> float:
    """``|bound − objective| / |objective|``; 0 when both vanish, inf when only one does."""
    if objective == bound:
        return 0.0
    return abs(bound - objective) / abs(objective) if objective else np.inf
