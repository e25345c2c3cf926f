"""Marginal gains of opening one more site, the quantity every greedy step compares.

Each state knows the demand already served and answers, for one candidate or for all at
once (vectorised over the sparse pairs), how much the objective improves if it opens.
Gains are expressed so that larger is better: covered demand for ``coverage``, saved
demand-weighted minutes for ``pmedian``.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np

from .problem import PlanningProblem


class Gains(Protocol):
    def all(self) -> np.ndarray:
        """Current gain of every candidate."""

    def gain(self, candidate: int) -> float:
        """Current gain of one candidate."""

    def add(self, candidate: int) -> None:
        """Open ``candidate``: the demand it serves is no longer up for grabs."""


def gains_for(problem: PlanningProblem) -> Gains:
    """The gain state that matches the problem's objective and capacity (``lscp`` ranks sites
    by the demand they bring within reach, ``pcenter`` by the minutes they save)."""
    if problem.capacity is not None:
        return CapacitatedGains(problem, problem.capacity)
    if problem.objective in ("coverage", "lscp"):
        return CoverageGains(problem)
    return MedianGains(problem)


class CoverageGains:
    """MCLP: the gain of a site is the demand in its catchment that no open site reaches yet."""

    def __init__(self, problem: PlanningProblem, weights: np.ndarray | None = None) -> None:
        a = problem.incidence
        self._a, self._ptr, self._rows = a, a.indptr, a.indices
        self._w = problem.demand if weights is None else np.asarray(weights, dtype=float)
        self._covered = np.zeros(problem.n_demand, dtype=bool)

    def all(self) -> np.ndarray:
        return self._a.T @ np.where(self._covered, 0.0, self._w)

    def gain(self, candidate: int) -> float:
        rows = self._rows[self._ptr[candidate] : self._ptr[candidate + 1]]
        return float(self._w[rows][~self._covered[rows]].sum())

    def add(self, candidate: int) -> None:
        self._covered[self._rows[self._ptr[candidate] : self._ptr[candidate + 1]]] = True


class MedianGains:
    """p-median: the gain is the weighted minutes saved by moving demand to a nearer site."""

    def __init__(self, problem: PlanningProblem) -> None:
        r = problem.reach
        self._o, self._d, self._m = r.origin, r.destination, r.minutes
        self._ptr = np.searchsorted(r.destination, np.arange(r.n_destinations + 1))
        self._w = problem.demand
        self._n = r.n_destinations
        self._current = np.full(problem.n_demand, problem.penalty)

    def all(self) -> np.ndarray:
        saved = self._w[self._o] * np.maximum(self._current[self._o] - self._m, 0.0)
        return np.bincount(self._d, weights=saved, minlength=self._n)

    def gain(self, candidate: int) -> float:
        k = slice(self._ptr[candidate], self._ptr[candidate + 1])
        rows = self._o[k]
        return float(self._w[rows] @ np.maximum(self._current[rows] - self._m[k], 0.0))

    def add(self, candidate: int) -> None:
        k = slice(self._ptr[candidate], self._ptr[candidate + 1])
        rows = self._o[k]
        self._current[rows] = np.minimum(self._current[rows], self._m[k])


class CapacitatedGains:
    """Capacity heuristic: a new site fills its capacity with the unserved demand it reaches,
    best value per unit of load first (a fractional knapsack); demand already served stays
    with its site. Value per unit served is the demand weight for ``coverage`` and the
    weight × minutes saved against the unserved penalty for ``pmedian``. The exact model
    re-assigns demand optimally; this only ranks candidates.
    """

    def __init__(self, problem: PlanningProblem, capacity: np.ndarray) -> None:
        r = problem.reach
        w, load = problem.demand, problem.load
        value = w[r.origin] * (1.0 if problem.maximise else problem.penalty - r.minutes)
        unit_load = load[r.origin]
        ratio = np.divide(value, unit_load, out=np.full(len(r), np.inf), where=unit_load > 0)
        order = np.lexsort((-ratio, r.destination))
        self._o, self._d = r.origin[order], r.destination[order]
        self._value, self._load = value[order], unit_load[order]
        self._ptr = np.searchsorted(self._d, np.arange(r.n_destinations + 1))
        self._capacity = capacity
        self._residual = np.ones(problem.n_demand)
        self._n = r.n_destinations

    def _fill(self, k: slice) -> np.ndarray:
        """Fraction of each pair's origin the pair's site would take, column by column."""
        o, d, unit = self._o[k], self._d[k], self._load[k]
        residual = self._residual[o]
        amount = residual * unit
        done = np.cumsum(amount) - amount
        start = np.searchsorted(d, d, side="left")
        before = done - done[start]
        take = np.clip(self._capacity[d] - before, 0.0, amount)
        return np.divide(take, unit, out=residual.copy(), where=unit > 0)

    def all(self) -> np.ndarray:
        served = self._fill(slice(None)) * self._value
        return np.bincount(self._d, weights=served, minlength=self._n)

    def gain(self, candidate: int) -> float:
        k = slice(self._ptr[candidate], self._ptr[candidate + 1])
        return float(self._fill(k) @ self._value[k])

    def add(self, candidate: int) -> None:
        k = slice(self._ptr[candidate], self._ptr[candidate + 1])
        rows = self._o[k]
        self._residual[rows] = np.maximum(self._residual[rows] - self._fill(k), 0.0)
