"""Malformed problems and infeasible rules fail loudly, naming what is wrong."""

from __future__ import annotations

import numpy as np
import pytest
from planning_instances import CUTOFF, random_matrix, to_pairs

from maillage.planning.errors import InfeasibleError, PlanningError
from maillage.planning.problem import PlanningProblem, underserved_weights

GROUP = np.array(["A", "A", "B", "B", "B", "C"])


@pytest.fixture
def base() -> dict:
    minutes = random_matrix(np.random.default_rng(1), 8, 6)
    return {"demand": np.ones(8), "pairs": to_pairs(minutes), "minutes": CUTOFF}


@pytest.mark.parametrize(
    ("rules", "message"),
    [
        ({"p": 2, "min_per_group": {"A": 2, "B": 1}}, "les quotas minimums totalisent 3"),
        ({"p": 4, "max_per_group": 1}, "les quotas maximums permettent au plus 3"),
        ({"p": 2, "min_per_group": {"C": 2}}, "le groupe C demande au moins 2"),
        ({"p": 2, "min_per_group": {"Z": 1}}, "groupes sans candidat : ['Z']"),
        (
            {"p": 2, "min_per_group": {"A": 2}, "max_per_group": {"A": 1}},
            "groupe A : quota minimum",
        ),
    ],
)
def test_infeasible_quotas_are_refused(base: dict, rules: dict, message: str) -> None:
    with pytest.raises(InfeasibleError, match=message.replace("[", r"\[").replace("]", r"\]")):
        PlanningProblem(**base, group=GROUP, **rules)


def test_budget_below_the_cheapest_feasible_set_is_refused(base: dict) -> None:
    cost = np.array([1.0, 1.0, 5.0, 6.0, 7.0, 9.0])
    with pytest.raises(InfeasibleError, match="budget 9 inférieur à 10"):
        PlanningProblem(**base, p=2, cost=cost, budget=9.0, group=GROUP, min_per_group={"C": 1})
    PlanningProblem(**base, p=2, cost=cost, budget=10.0, group=GROUP, min_per_group={"C": 1})


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"p": 7}, "p = 7 sites demandés, 6 candidats"),
        ({"p": 0}, "p = 0"),
        ({"p": 2.0}, "p = 2.0"),
        ({"p": 6, "existing": np.eye(6, dtype=bool)[0]}, "5 candidats peuvent ouvrir"),
        ({"demand": np.ones(3)}, "la demande a 3 valeurs pour 8 origines"),
        ({"demand": -np.ones(8)}, "positive ou nulle"),
        ({"objective": "p-dispersion"}, "objectif inconnu"),
        ({"budget": 3.0}, "un budget demande un coût"),
        ({"max_per_group": 1}, "des quotas par groupe demandent le groupe"),
        ({"cost": np.ones(4)}, "cost doit avoir 6 valeurs"),
        ({"existing": np.ones(6)}, "existing doit être un tableau booléen"),
        ({"unserved_penalty": 5.0}, "au moins la portée"),
    ],
)
def test_malformed_problems_are_refused(base: dict, change: dict, message: str) -> None:
    args = {**base, "p": 2, **change}
    with pytest.raises(PlanningError, match=message):
        PlanningProblem(**args)


def test_underserved_weights_scale_population_by_deficit() -> None:
    weights = underserved_weights(
        np.array([100.0, 100.0, 100.0, 50.0]), np.array([0.0, 2.0, 5.0, np.nan]), 4.0
    )
    np.testing.assert_allclose(weights, [100.0, 50.0, 0.0, 50.0])
    with pytest.raises(PlanningError):
        underserved_weights(np.ones(2), np.ones(2), 0.0)
