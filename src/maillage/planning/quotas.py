"""Quotas and budget as one question: what is the cheapest way to finish a selection?

With per-group lower and upper bounds on the number of new sites and one total, the cheapest
completion takes each group's missing minimum from its cheapest candidates, then the
cheapest of what the upper bounds still allow (an exchange argument shows this is optimal).
The greedy accepts a pick only if a completion still fits the budget, so it never dead-ends,
and validation reports infeasible quotas or budgets before any solving.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from .errors import InfeasibleError, PlanningError

_TOLERANCE = 1e-9


@dataclass(frozen=True, eq=False)
class Completion:
    """Per-group bounds on new sites, and candidates sorted by (group, cost) to fill them."""

    names: np.ndarray  # group name per group index
    group: np.ndarray  # group index per candidate
    cost: np.ndarray  # cost per candidate (zeros without budget)
    order: np.ndarray  # new candidates sorted by (group, cost)
    lower: np.ndarray  # minimum new sites per group
    upper: np.ndarray  # maximum new sites per group (may be inf)
    constrained: bool  # False when neither quotas nor costs restrict the picks

    @classmethod
    def build(
        cls,
        n_candidates: int,
        existing: np.ndarray,
        cost: np.ndarray | None,
        group: np.ndarray | None,
        min_per_group: int | Mapping[str, int] | None,
        max_per_group: int | Mapping[str, int] | None,
    ) -> Completion:
        if group is None:
            if min_per_group is not None or max_per_group is not None:
                raise PlanningError("des quotas par groupe demandent le groupe de chaque candidat")
            group = np.zeros(n_candidates, dtype=object)
        group = np.asarray(group).astype(str)
        if group.shape != (n_candidates,):
            raise PlanningError(
                f"group doit donner un nom pour chacun des {n_candidates} candidats"
            )
        names, index = np.unique(group, return_inverse=True)
        lower = _bounds(min_per_group, names, 0.0)
        upper = _bounds(max_per_group, names, np.inf)
        if isinstance(min_per_group, Mapping):
            unknown = sorted(
                set(min_per_group) - set(names) - {k for k, v in min_per_group.items() if v <= 0}
            )
            if unknown:
                raise InfeasibleError(f"quota minimum pour des groupes sans candidat : {unknown}")
        if np.any(lower < 0) or np.any(upper < 0):
            raise PlanningError("les quotas doivent être positifs ou nuls")
        if np.any(lower > upper):
            bad = names[lower > upper][0]
            raise InfeasibleError(f"groupe {bad} : quota minimum au-dessus du quota maximum")
        costs = np.zeros(n_candidates) if cost is None else cost
        new = np.flatnonzero(~existing)
        order = new[np.lexsort((costs[new], index[new]))]
        constrained = (
            cost is not None or bool(np.any(lower > 0)) or bool(np.any(np.isfinite(upper)))
        )
        return cls(names, index, costs, order, lower, upper, constrained)

    def min_cost(self, selected: np.ndarray, remaining: int) -> float:
        """Cheapest cost of ``remaining`` more new sites given ``selected`` (inf if none)."""
        counts = np.bincount(self.group[selected], minlength=len(self.names))
        need = np.maximum(self.lower - counts, 0)
        room = self.upper - counts
        if need.sum() > remaining or np.any(room < 0):
            return np.inf
        free = self.order[~selected[self.order]]
        g = self.group[free]
        c = self.cost[free]
        rank = np.arange(len(free)) - np.searchsorted(g, g, side="left")
        if np.any(np.bincount(g, minlength=len(self.names)) < need):
            return np.inf
        required = rank < need[g]
        optional = ~required & (rank < room[g])
        rest = int(remaining - need.sum())
        if optional.sum() < rest:
            return np.inf
        extra = np.partition(c[optional], rest - 1)[:rest].sum() if rest else 0.0
        return float(c[required].sum() + extra)

    def allows(
        self, selected: np.ndarray, candidate: int, remaining: int, budget_left: float
    ) -> bool:
        """Whether picking ``candidate`` leaves ``remaining`` picks a completion within budget."""
        if not self.constrained:
            return True
        g = self.group[candidate]
        if np.sum(self.group[selected] == g) >= self.upper[g]:
            return False
        selected = selected.copy()
        selected[candidate] = True
        rest = self.min_cost(selected, remaining)
        if not np.isfinite(rest):
            return False
        return self.cost[candidate] + rest <= budget_left * (1 + _TOLERANCE) + _TOLERANCE

    def full_groups(self, selected: np.ndarray) -> np.ndarray:
        """Mask of candidates whose group has reached its maximum (never pickable again)."""
        counts = np.bincount(self.group[selected], minlength=len(self.names))
        return (counts >= self.upper)[self.group]

    def check(self, p: int, budget: float | None) -> None:
        """Raise :class:`InfeasibleError` naming the quota or budget that cannot be met."""
        available = np.bincount(self.group[self.order], minlength=len(self.names))
        short = available < self.lower
        if np.any(short):
            g = np.flatnonzero(short)[0]
            raise InfeasibleError(
                f"le groupe {self.names[g]} demande au moins {self.lower[g]:g} nouveaux sites "
                f"mais n'a que {available[g]} candidats"
            )
        if self.lower.sum() > p:
            raise InfeasibleError(
                f"les quotas minimums totalisent {self.lower.sum():g} nouveaux sites, "
                f"plus que p = {p}"
            )
        most = np.minimum(self.upper, available).sum()
        if most < p:
            raise InfeasibleError(
                f"les quotas maximums permettent au plus {most:g} nouveaux sites, p = {p}"
            )
        if budget is not None:
            cheapest = self.min_cost(np.zeros(len(self.group), dtype=bool), p)
            if cheapest > budget * (1 + _TOLERANCE) + _TOLERANCE:
                raise InfeasibleError(
                    f"budget {budget:g} inférieur à {cheapest:g}, le coût des {p} nouveaux sites "
                    "les moins chers qui respectent les quotas"
                )


def _bounds(quota: int | Mapping[str, int] | None, names: np.ndarray, default: float) -> np.ndarray:
    if quota is None:
        return np.full(len(names), default)
    if isinstance(quota, Mapping):
        return np.array([float(quota.get(str(name), default)) for name in names])
    return np.full(len(names), float(quota))
