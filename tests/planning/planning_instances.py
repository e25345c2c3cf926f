"""Small random instances and the brute-force oracle the planning tests compare against."""

from __future__ import annotations

import itertools

import numpy as np
from scipy.optimize import linprog

from maillage.travel.model import TravelPairs

CUTOFF = 10.0


def random_matrix(rng: np.random.Generator, n_demand: int, n_candidates: int) -> np.ndarray:
    """Dense minutes with NaN for absent pairs; about a third of pairs are within the cut-off."""
    minutes = np.round(rng.uniform(0.0, 25.0, (n_demand, n_candidates)), 1)
    minutes[rng.random(minutes.shape) < 0.3] = np.nan
    return minutes


def to_pairs(minutes: np.ndarray) -> TravelPairs:
    o, d = np.nonzero(~np.isnan(minutes))
    return TravelPairs(*minutes.shape, o.astype(np.int32), d.astype(np.int32), minutes[o, d])


def subset_value(
    minutes: np.ndarray,
    demand: np.ndarray,
    open_sites: np.ndarray,
    objective: str,
    penalty: float = CUTOFF + 10,
    capacity: float | None = None,
) -> float:
    """Objective of one set of open sites, computed densely (the oracle's own way)."""
    reach = np.where(np.isnan(minutes), np.inf, minutes)[:, open_sites]
    within = reach <= CUTOFF
    if capacity is None:
        if objective == "coverage":
            return float(demand[within.any(axis=1)].sum())
        best = np.where(within, reach, np.inf).min(axis=1, initial=np.inf)
        return float(demand @ np.minimum(best, penalty))
    # capacitated: fractional assignment LP over the open sites (load = demand).
    n, m = within.shape
    if objective == "coverage":
        value = np.where(within, demand[:, None], 0.0)
    else:
        value = np.where(within, demand[:, None] * (penalty - np.minimum(reach, penalty)), 0.0)
    a_rows = np.kron(np.eye(n), np.ones(m))
    a_cap = np.kron(np.ones(n), np.eye(m)) * np.repeat(demand, m)
    bounds = [(0, 1 if w else 0) for w in within.ravel()]
    lp = linprog(
        -value.ravel(),
        A_ub=np.vstack([a_rows, a_cap]),
        b_ub=np.r_[np.ones(n), np.full(m, capacity)],
        bounds=bounds,
        method="highs",
    )
    saved = -lp.fun
    return saved if objective == "coverage" else float(demand.sum() * penalty - saved)


def brute_force(
    minutes: np.ndarray,
    demand: np.ndarray,
    p: int,
    objective: str,
    existing: np.ndarray | None = None,
    feasible=lambda sites: True,
    capacity: float | None = None,
) -> float:
    """Best objective over every feasible set of p new sites (existing ones always open)."""
    n_cand = minutes.shape[1]
    existing = np.zeros(n_cand, dtype=bool) if existing is None else existing
    new = np.flatnonzero(~existing)
    values = []
    for sites in itertools.combinations(new, p):
        if not feasible(np.array(sites)):
            continue
        open_sites = existing.copy()
        open_sites[list(sites)] = True
        values.append(subset_value(minutes, demand, open_sites, objective, capacity=capacity))
    return max(values) if objective == "coverage" else min(values)


def geometric(n: int, seed: int, side_km: float = 60.0) -> tuple[np.ndarray, TravelPairs]:
    """Communes scattered on a square, each a candidate; minutes = km at 45 km/h, + 2."""
    from scipy.spatial import cKDTree

    rng = np.random.default_rng(seed)
    xy = rng.uniform(0.0, side_km, (n, 2))
    demand = np.round(rng.lognormal(6.0, 1.3, n))
    radius = (CUTOFF - 2.0) * 45.0 / 60.0
    near = cKDTree(xy).sparse_distance_matrix(cKDTree(xy), radius, output_type="coo_matrix")
    o = np.r_[near.row, np.arange(n)]
    d = np.r_[near.col, np.arange(n)]
    minutes = np.r_[near.data * 60.0 / 45.0, np.zeros(n)] + 2.0
    return demand, TravelPairs(n, n, o.astype(np.int32), d.astype(np.int32), minutes)
