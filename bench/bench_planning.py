"""Planning benchmark: maillage's solver against spopt's MCLP, regionally and nationally.

(a) Grand Est communes (region 44) as demand and candidates, p = 100, T = 10 min, one shared
    crow-fly matrix: maillage must match or beat spopt's objective and be ≥ 20× faster than
    spopt's build + solve (PuLP + CBC).
(b) All communes, coverage, p = 100, T = 10 min (spopt cannot even hold its dense matrix):
    under 60 s on 2 cores with a certified gap ≤ 1 %, peak memory under 4 GB.

Ratios are measured in the same run. Run with ``python -m bench`` or this module's ``main``.
"""

from __future__ import annotations

import resource
import time

import numpy as np
import pandas as pd

from maillage.planning import PlanningProblem, solve
from maillage.territory.communes import communes_places, load_communes
from maillage.travel.crowfly import CrowFly
from maillage.travel.model import TravelPairs

P = 100
MINUTES = 10.0
REGION = "44"
NATIONAL_TIME_LIMIT = 50.0
NATIONAL_GAP = 0.01
SPOPT_TIME_LIMIT = 300


def coverage_problem(communes: pd.DataFrame) -> tuple[PlanningProblem, TravelPairs, float]:
    """Communes as demand and candidates, with the seconds spent on travel pairs."""
    places = communes_places(communes)
    began = time.perf_counter()
    pairs = CrowFly().pairs(places, places, MINUTES)
    seconds = time.perf_counter() - began
    demand = communes["population"].to_numpy(dtype=float)
    return PlanningProblem(demand, pairs, P, MINUTES), pairs, seconds


def peak_rss_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20


def national(communes: pd.DataFrame) -> None:
    began = time.perf_counter()
    problem, pairs, travel = coverage_problem(communes)
    solution = solve(problem, time_limit=NATIONAL_TIME_LIMIT, mip_gap=NATIONAL_GAP)
    wall = time.perf_counter() - began
    rss = peak_rss_gb()
    print(
        f"national coverage: {len(communes)} communes, {len(pairs):,} pairs <= {MINUTES:g} min, "
        f"p = {P}\n  objective {solution.objective:,.0f} (start {solution.start_objective:,.0f}),"
        f" bound {solution.bound:,.0f}, gap {solution.gap:.3%} [{solution.status}]\n"
        f"  travel {travel:.1f} s + solve {sum(solution.times.values()):.1f} s = {wall:.1f} s "
        f"wall (target < 60 s: {'OK' if wall < 60 else 'MISSED'}); "
        f"gap target <= 1 %: {'OK' if solution.gap <= 0.01 else 'MISSED'}; "
        f"peak RSS {rss:.2f} GB (target < 4 GB: {'OK' if rss < 4 else 'MISSED'})\n"
        f"  times {_times(solution.times)}"
    )


def regional(communes: pd.DataFrame) -> None:
    import pulp
    from spopt.locate import MCLP

    began = time.perf_counter()
    problem, pairs, travel = coverage_problem(communes[communes["region"] == REGION])
    solution = solve(problem, time_limit=60.0)
    ours = time.perf_counter() - began - travel
    dense = np.full((pairs.n_origins, pairs.n_destinations), np.inf)
    dense[pairs.origin, pairs.destination] = pairs.minutes
    began = time.perf_counter()
    model = MCLP.from_cost_matrix(dense, problem.demand, MINUTES, P)
    built = time.perf_counter() - began
    model.solve(pulp.PULP_CBC_CMD(msg=False, timeLimit=SPOPT_TIME_LIMIT))
    spopt = time.perf_counter() - began
    theirs = float(model.problem.objective.value())
    print(
        f"regional coverage (region {REGION}): {pairs.n_origins} communes, "
        f"{len(pairs):,} pairs, p = {P}\n"
        f"  maillage objective {solution.objective:,.0f}, gap {solution.gap:.4%} "
        f"[{solution.status}] in {ours:.2f} s ({_times(solution.times)})\n"
        f"  spopt    objective {theirs:,.0f} [{pulp.LpStatus[model.problem.status]}] in "
        f"{spopt:.1f} s (build {built:.1f} s)\n"
        f"  objective ratio {solution.objective / theirs:.5f} (target >= 1: "
        f"{'OK' if solution.objective >= theirs - 1e-6 else 'MISSED'}); speed-up "
        f"{spopt / ours:.1f}x (target >= 20x: {'OK' if spopt >= 20 * ours else 'MISSED'})"
    )


def _times(times: dict[str, float]) -> str:
    return ", ".join(f"{stage} {seconds:.2f} s" for stage, seconds in times.items())


def main() -> None:
    communes = load_communes()
    usable = communes["x"].notna() & communes["population"].notna()
    print(f"planning: {int((~usable).sum())} communes without position or population skipped")
    communes = communes[usable].reset_index(drop=True)
    national(communes)
    regional(communes)


if __name__ == "__main__":
    main()
