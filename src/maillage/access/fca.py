"""The floating-catchment family (2SFCA, E2SFCA, gravity): supply per head within reach.

Two-step floating catchment (Luo & Wang 2003, *Environment and Planning B* 30(6)):
``R_j = S_j / Σ_i w_ij D_i`` is the supply of destination j per weighted head in its
catchment, and ``A_i = Σ_j w_ij R_j`` what origin i can reach. E2SFCA (Luo & Qi 2009,
*Health & Place* 15(4)) uses step weights, the gravity variant ``w = t^-β`` (Joseph & Bantock
1982). Same definition and units (supply per inhabitant) as PySAL ``access``
``Access.two_stage_fca`` / ``enhanced_two_stage_fca``, which we are tested against — but two
``np.bincount`` passes over the sparse pairs instead of pandas merges and group-bys.
"""

from __future__ import annotations

import numpy as np

from maillage.access.weights import GravityWeights, StepWeights
from maillage.travel.model import TravelPairs


def floating_catchment(
    demand: np.ndarray, supply: np.ndarray, pairs: TravelPairs, weights: np.ndarray
) -> np.ndarray:
    """Access of every origin: ``A_i = Σ_j w_ij S_j / Σ_k w_kj D_k``.

    ``demand`` is per origin, ``supply`` per destination, ``weights`` per pair. Supply whose
    weighted demand is zero reaches nobody and contributes nothing (PySAL would give inf or
    NaN there); an origin that reaches no pair gets 0 (PySAL: NaN). Conservation:
    Σ_i D_i A_i = Σ_j S_j over the destinations whose weighted demand is positive.
    """
    weights = np.asarray(weights, dtype=float)
    origin, destination = pairs.origin, pairs.destination
    seen = np.bincount(
        destination,
        weights=weights * np.asarray(demand, dtype=float)[origin],
        minlength=pairs.n_destinations,
    )
    ratio = np.divide(
        np.asarray(supply, dtype=float), seen, out=np.zeros(pairs.n_destinations), where=seen > 0
    )
    return np.bincount(origin, weights=weights * ratio[destination], minlength=pairs.n_origins)


def two_sfca(
    demand: np.ndarray, supply: np.ndarray, pairs: TravelPairs, catchment: float
) -> np.ndarray:
    """Classic 2SFCA: every destination within ``catchment`` minutes (inclusive) weighs 1."""
    weights = (pairs.minutes <= catchment).astype(float)
    return floating_catchment(demand, supply, pairs, weights)


def e2sfca(
    demand: np.ndarray, supply: np.ndarray, pairs: TravelPairs, steps: StepWeights
) -> np.ndarray:
    """Enhanced 2SFCA with step weights (inclusive upper bounds)."""
    return floating_catchment(demand, supply, pairs, steps(pairs.minutes))


def gravity(
    demand: np.ndarray,
    supply: np.ndarray,
    pairs: TravelPairs,
    beta: float,
    cutoff: float,
    min_minutes: float = 1.0,
) -> np.ndarray:
    """Gravity-weighted 2SFCA: ``w = max(t, min_minutes)^-beta`` within ``cutoff``."""
    weights = GravityWeights(beta, cutoff, min_minutes)(pairs.minutes)
    return floating_catchment(demand, supply, pairs, weights)
