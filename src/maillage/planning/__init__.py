"""Where to open the next sites: coverage, under-served and p-median models, with certified gaps.

Build a :class:`PlanningProblem` (demand, sparse travel pairs to candidate sites, p, rules),
then call :func:`solve`; the :class:`Solution` carries the sites in rank order, the
objective, HiGHS's bound and the relative gap.
"""

from .errors import InfeasibleError, PlanningError
from .problem import PlanningProblem, underserved_weights
from .solution import Solution, Step
from .solve import evaluate, solve

__all__ = [
    "InfeasibleError",
    "PlanningError",
    "PlanningProblem",
    "Solution",
    "Step",
    "evaluate",
    "solve",
    "underserved_weights",
]
