"""The site-location problem: who needs care, where sites may open, and the rules they obey."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from functools import cached_property
from typing import Literal

import numpy as np
from scipy import sparse

from maillage.travel.model import TravelPairs

from .errors import PlanningError
from .quotas import Completion

Objective = Literal["coverage", "pmedian", "lscp", "pcenter"]
#: Objectives that place sites by the worst-served inhabitant rather than by a sum over all.
COVERING = ("lscp", "pcenter")
Quota = int | Mapping[str, int] | None


def underserved_weights(population: np.ndarray, access: np.ndarray, threshold: float) -> np.ndarray:
    """Demand weighted by deficit: population × max(0, T − access) / T, with T the upper
    zoning threshold T2 for ``underserved`` and the lower one T1 for ``sous-dotees``.

    A commune at or above T weighs nothing, one with no access at all weighs its whole
    population; a NaN access (no data) counts as no access.
    """
    if threshold <= 0:
        raise PlanningError(f"le seuil doit être positif, reçu {threshold}")
    population = np.asarray(population, dtype=float)
    access = np.nan_to_num(np.asarray(access, dtype=float), nan=0.0)
    if population.shape != access.shape:
        raise PlanningError("population et accès doivent avoir la même longueur")
    deficit = np.clip((threshold - access) / threshold, 0.0, 1.0)
    return population * deficit


@dataclass(frozen=True, eq=False, init=False)
class PlanningProblem:
    """Open ``p`` new sites among candidates to serve demand reachable within ``minutes``.

    - ``demand``: weight of each origin of ``pairs`` (population, or population × deficit).
    - ``pairs``: travel times origin → candidate; pairs above ``minutes`` are ignored.
    - ``existing``: candidates already open; they serve demand but do not count in ``p``.
    - ``cost``/``budget``: the summed cost of the new sites may not exceed the budget.
    - ``group``/``min_per_group``/``max_per_group``: quotas on *new* sites per group
      (department); an int applies to every group, a mapping to the groups it names.
    - ``capacity``: demand load a site can absorb (scalar or per candidate); ``load`` is
      each origin's load when fully served (default: its demand), e.g. acts a year.
    - ``objective``: ``coverage`` maximises demand within reach; ``pmedian`` minimises
      demand-weighted minutes, demand out of reach costing ``unserved_penalty`` minutes
      (default ``minutes + 10``); ``lscp`` opens the fewest sites (at most ``p``) that bring
      every origin with demand within ``minutes`` of an open or existing site; ``pcenter``
      opens ``p`` sites minimising the worst minutes from an origin with demand to its
      nearest open site (pairs beyond ``minutes`` are out of reach). Both report, never
      drop, the origins no candidate reaches (:mod:`.covering`), and take no capacity,
      budget or quotas.

    The constructor takes the loose forms above (no mask, a scalar capacity, no load) and
    stores each field already normalised and checked, so a field's type says what it holds.
    """

    demand: np.ndarray
    pairs: TravelPairs
    p: int
    minutes: float
    objective: Objective
    existing: np.ndarray
    cost: np.ndarray | None
    budget: float | None
    group: np.ndarray | None
    min_per_group: Quota
    max_per_group: Quota
    capacity: np.ndarray | None
    load: np.ndarray
    unserved_penalty: float | None

    def __init__(
        self,
        demand: np.ndarray,
        pairs: TravelPairs,
        p: int,
        minutes: float,
        objective: Objective = "coverage",
        existing: np.ndarray | None = None,
        cost: np.ndarray | None = None,
        budget: float | None = None,
        group: np.ndarray | None = None,
        min_per_group: Quota = None,
        max_per_group: Quota = None,
        capacity: float | np.ndarray | None = None,
        load: np.ndarray | None = None,
        unserved_penalty: float | None = None,
    ) -> None:
        n_dem, n_cand = pairs.n_origins, pairs.n_destinations
        demand = np.asarray(demand, dtype=float)
        if demand.shape != (n_dem,):
            raise PlanningError(f"la demande a {demand.size} valeurs pour {n_dem} origines")
        if not np.all(np.isfinite(demand)) or np.any(demand < 0):
            raise PlanningError("la demande doit être finie et positive ou nulle")
        if objective not in ("coverage", "pmedian", *COVERING):
            raise PlanningError(f"objectif inconnu {objective!r}")
        if objective in COVERING and not (
            capacity is None and budget is None and min_per_group is None and max_per_group is None
        ):
            raise PlanningError(f"{objective} ne prend ni capacité, ni budget, ni quotas")
        if not minutes > 0:
            raise PlanningError(f"la portée doit être positive, reçu {minutes}")
        mask = _mask(existing, n_cand, "existing")
        n_new = n_cand - int(mask.sum())
        if not isinstance(p, int | np.integer) or not 1 <= p <= n_new:
            raise PlanningError(f"p = {p} sites demandés, {n_new} candidats peuvent ouvrir")
        if unserved_penalty is not None and unserved_penalty < minutes:
            raise PlanningError("la pénalité des non desservis doit être au moins la portée")
        if budget is not None and cost is None:
            raise PlanningError("un budget demande un coût par candidat")
        fields = {
            "demand": demand,
            "pairs": pairs,
            "p": p,
            "minutes": minutes,
            "objective": objective,
            "existing": mask,
            "cost": None if cost is None else _vector(cost, n_cand, "cost"),
            "budget": budget,
            "group": group,
            "min_per_group": min_per_group,
            "max_per_group": max_per_group,
            "capacity": None if capacity is None else _vector(capacity, n_cand, "capacity"),
            "load": demand if load is None else _vector(load, n_dem, "load"),
            "unserved_penalty": unserved_penalty,
        }
        for name, value in fields.items():
            object.__setattr__(self, name, value)
        self.completion.check(self.p, self.budget)

    @property
    def n_demand(self) -> int:
        return self.pairs.n_origins

    @property
    def n_candidates(self) -> int:
        return self.pairs.n_destinations

    @property
    def maximise(self) -> bool:
        return self.objective == "coverage"

    @property
    def penalty(self) -> float:
        """Minutes charged to demand no open site reaches (p-median)."""
        return self.minutes + 10.0 if self.unserved_penalty is None else self.unserved_penalty

    @cached_property
    def completion(self) -> Completion:
        return Completion.build(
            self.n_candidates,
            self.existing,
            self.cost,
            self.group,
            self.min_per_group,
            self.max_per_group,
        )

    @cached_property
    def reach(self) -> TravelPairs:
        """Pairs within the cut-off, one per (origin, candidate), sorted by candidate."""
        pairs = self.pairs
        _check_pairs(pairs)
        keep = pairs.minutes <= self.minutes
        o, d, m = pairs.origin[keep], pairs.destination[keep], pairs.minutes[keep]
        order = np.lexsort((m, o, d))
        o, d, m = o[order], d[order], m[order]
        first = np.ones(len(o), dtype=bool)
        first[1:] = (o[1:] != o[:-1]) | (d[1:] != d[:-1])
        return TravelPairs(
            pairs.n_origins,
            pairs.n_destinations,
            o[first].astype(np.int32),
            d[first].astype(np.int32),
            m[first].astype(float),
        )

    def restrict(
        self, keep: np.ndarray, *, demand: np.ndarray | None = None, p: int | None = None
    ) -> PlanningProblem:
        """The same problem with only the candidates at ``keep`` (positions, in order).

        A sub-problem's ``demand`` or ``p`` may change at the same time, so the restriction is
        validated once, as a whole.
        """
        keep = np.asarray(keep, dtype=np.int64)
        position = np.full(self.n_candidates, -1)
        position[keep] = np.arange(len(keep))
        r = self.reach
        inside = position[r.destination] >= 0
        pairs = TravelPairs(
            r.n_origins,
            len(keep),
            r.origin[inside],
            position[r.destination[inside]].astype(np.int32),
            r.minutes[inside],
        )
        return replace(
            self,
            pairs=pairs,
            existing=self.existing[keep],
            cost=None if self.cost is None else self.cost[keep],
            group=None if self.group is None else np.asarray(self.group)[keep],
            capacity=None if self.capacity is None else self.capacity[keep],
            demand=self.demand if demand is None else demand,
            p=self.p if p is None else p,
        )

    @cached_property
    def incidence(self) -> sparse.csc_matrix:
        """Demand × candidate reach as a CSC matrix of ones (columns = catchments)."""
        r = self.reach
        return sparse.csc_matrix(
            (np.ones(len(r)), (r.origin, r.destination)),
            shape=(r.n_origins, r.n_destinations),
        )


def _check_pairs(pairs: TravelPairs) -> None:
    for name, values, size in (
        ("origin", pairs.origin, pairs.n_origins),
        ("destination", pairs.destination, pairs.n_destinations),
    ):
        if len(values) and (values.min() < 0 or values.max() >= size):
            raise PlanningError(f"indice {name} de paire de trajet hors limites")
    if np.any(~np.isfinite(pairs.minutes)) or np.any(pairs.minutes < 0):
        raise PlanningError("les minutes de trajet doivent être finies et positives ou nulles")


def _mask(values: np.ndarray | None, size: int, name: str) -> np.ndarray:
    if values is None:
        return np.zeros(size, dtype=bool)
    mask = np.asarray(values)
    if mask.shape != (size,) or mask.dtype != bool:
        raise PlanningError(f"{name} doit être un tableau booléen de {size} candidats")
    return mask


def _vector(values: float | np.ndarray, size: int, name: str) -> np.ndarray:
    try:
        vector = np.broadcast_to(np.asarray(values, dtype=float), (size,)).copy()
    except ValueError as error:
        raise PlanningError(f"{name} doit avoir {size} valeurs") from error
    if not np.all(np.isfinite(vector)) or np.any(vector < 0):
        raise PlanningError(f"{name} doit être fini et positif ou nul ({size} valeurs)")
    return vector
