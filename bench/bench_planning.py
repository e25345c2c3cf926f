"""Planning benchmark: maillage's solver against spopt's MCLP, regionally and nationally.

(a) Grand Est communes (region 44) as demand and candidates, p = 100, T = 10 min, one shared
    crow-fly matrix: maillage must match or beat spopt's objective and be ≥ 20× faster than
    spopt's build + solve (PuLP + CBC).
(b) All communes, coverage, p = 100, T = 10 min (spopt cannot even hold its dense matrix):
    under 60 s on 2 cores with a certified gap ≤ 1 %, peak memory under 4 GB.

(c) All communes, p-median, p = 50, T = 10 min, the plan's default time limit: the bound and
    gap it certifies (Lagrangian first, LP after; a bound whatever the time limit cuts).
(d) Grand Est, LSCP at T = 10 min and p-center with p = 40 new sites over trips up to 45 min,
    the default time limit: time, objective, certified bound and gap.

Ratios are measured in the same run. Run with ``python -m bench`` or this module's ``main``.
"""

from __future__ import annotations

import json
import os
import resource
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from maillage.planning.parameters import DEFAULT_TIME_LIMIT
from maillage.planning.problem import PlanningProblem
from maillage.planning.solution import Solution
from maillage.planning.solve import solve
from maillage.territory.communes import communes_places, load_communes
from maillage.travel.crowfly import CrowFly
from maillage.travel.model import TravelPairs

P = 100
MINUTES = 10.0
REGION = "44"
NATIONAL_TIME_LIMIT = 50.0
NATIONAL_GAP = 0.01
#: spopt needs minutes just to build the regional model; beyond this many seconds (build and
#: CBC solve together) it is stopped and only a lower bound on the speed-up is printed. Set
#: ``MAILLAGE_BENCH_SPOPT_LIMIT`` (seconds) to let it run longer, e.g. to its end (~1,100 s
#: on 2 cores) so that its objective can be compared.
SPOPT_WALL_LIMIT = float(os.environ.get("MAILLAGE_BENCH_SPOPT_LIMIT", "540"))
REGIONAL_TIME_LIMIT = 25.0
MEDIAN_SITES = 50
PCENTER_SITES = 40
PCENTER_MINUTES = 45.0


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
    if solution.bound is None:
        print(f"national coverage: no certificate within the time limit ({wall:.1f} s)")
        return
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


def national_pmedian(communes: pd.DataFrame) -> None:
    places = communes_places(communes)
    pairs = CrowFly().pairs(places, places, MINUTES)
    demand = communes["population"].to_numpy(dtype=float)
    problem = PlanningProblem(demand, pairs, MEDIAN_SITES, MINUTES, objective="pmedian")
    began = time.perf_counter()
    solution = solve(problem, time_limit=DEFAULT_TIME_LIMIT)
    print(
        f"national p-median: p = {MEDIAN_SITES}, time limit {DEFAULT_TIME_LIMIT:g} s, "
        f"{time.perf_counter() - began:.1f} s\n  {_certificate(solution)} "
        f"(certified bound: {'OK' if solution.bound is not None else 'MISSED'})"
    )


def covering_models(communes: pd.DataFrame) -> None:
    region = communes[communes["region"] == REGION].reset_index(drop=True)
    places = communes_places(region)
    demand = region["population"].to_numpy(dtype=float)
    for objective, p, minutes in (
        ("lscp", len(region), MINUTES),
        ("pcenter", PCENTER_SITES, PCENTER_MINUTES),
    ):
        pairs = CrowFly().pairs(places, places, minutes)
        problem = PlanningProblem(demand, pairs, p, minutes, objective=objective)
        began = time.perf_counter()
        solution = solve(problem, time_limit=DEFAULT_TIME_LIMIT)
        print(
            f"regional {objective} (region {REGION}, trips up to {minutes:g} min"
            f"{'' if objective == 'lscp' else f', p = {p}'}): "
            f"{time.perf_counter() - began:.1f} s\n  {_certificate(solution)}"
        )


def _certificate(solution: Solution) -> str:
    bound = "none" if solution.bound is None else f"{solution.bound:,.2f}"
    gap = "none" if solution.gap is None else f"{solution.gap:.3%}"
    return (
        f"objective {solution.objective:,.2f}, bound {bound}, gap {gap} [{solution.status}] "
        f"({_times(solution.times)})"
    )


def regional(communes: pd.DataFrame) -> None:
    began = time.perf_counter()
    problem, pairs, travel = coverage_problem(communes[communes["region"] == REGION])
    solution = solve(problem, time_limit=REGIONAL_TIME_LIMIT)
    ours = time.perf_counter() - began - travel
    print(
        f"regional coverage (region {REGION}): {pairs.n_origins} communes, "
        f"{len(pairs):,} pairs, p = {P}\n"
        f"  maillage objective {solution.objective:,.0f}, bound "
        f"{'none' if solution.bound is None else f'{solution.bound:,.0f}'}, gap "
        f"{'none' if solution.gap is None else f'{solution.gap:.4%}'} "
        f"[{solution.status}] in {ours:.2f} s ({_times(solution.times)})"
    )
    theirs = spopt_mclp(pairs, problem.demand, SPOPT_WALL_LIMIT)
    if theirs is None:
        print(
            f"  spopt did not finish within {SPOPT_WALL_LIMIT} s: speed-up > "
            f"{SPOPT_WALL_LIMIT / ours:.0f}x; objective not compared"
        )
        return
    value, seconds = theirs["objective"], theirs["total"]
    print(
        f"  spopt    objective {value:,.0f} [{theirs['status']}] in {seconds:.1f} s "
        f"(build {theirs['build']:.1f} s)\n"
        f"  objective ratio {solution.objective / value:.5f} (target >= 1: "
        f"{'OK' if solution.objective >= value - 1e-6 else 'MISSED'}); speed-up "
        f"{seconds / ours:.1f}x (target >= 20x: {'OK' if seconds >= 20 * ours else 'MISSED'})"
    )


def spopt_mclp(pairs: TravelPairs, demand: np.ndarray, wall_limit: float) -> dict | None:
    """spopt's MCLP on the same pairs, in a child process killed (with CBC) at ``wall_limit``."""
    with tempfile.TemporaryDirectory() as folder:
        instance = Path(folder) / "instance.npz"
        np.savez(
            instance,
            shape=[pairs.n_origins, pairs.n_destinations],
            origin=pairs.origin,
            destination=pairs.destination,
            minutes=pairs.minutes,
            demand=demand,
        )
        child = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "bench.bench_planning",
                "--spopt",
                str(instance),
                str(wall_limit),
            ],
            cwd=Path(__file__).resolve().parents[1],
            stdout=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
        try:
            out, _ = child.communicate(timeout=wall_limit + 60)
        except subprocess.TimeoutExpired:
            os.killpg(child.pid, signal.SIGKILL)
            child.communicate()
            return None
    return json.loads(out.splitlines()[-1]) if child.returncode == 0 else None


def _spopt_child(instance: str, wall_limit: float) -> None:
    """Child side of :func:`spopt_mclp`: time spopt's build and CBC solve, print JSON."""
    import pulp
    from spopt.locate import MCLP

    data = np.load(instance)
    dense = np.full(tuple(data["shape"]), np.inf)
    dense[data["origin"], data["destination"]] = data["minutes"]
    began = time.perf_counter()
    model = MCLP.from_cost_matrix(dense, data["demand"], MINUTES, P)
    built = time.perf_counter() - began
    left = max(wall_limit - built, 1.0)
    model.solve(pulp.PULP_CBC_CMD(msg=False, timeLimit=left))
    result = {
        "build": built,
        "total": time.perf_counter() - began,
        "objective": float(model.problem.objective.value()),
        "status": pulp.LpStatus[model.problem.status],
    }
    print(json.dumps(result))


def _times(times: dict[str, float]) -> str:
    return ", ".join(f"{stage} {seconds:.2f} s" for stage, seconds in times.items())


def main() -> None:
    """Print both benchmarks' figures and ratios."""
    communes = load_communes()
    usable = communes["x"].notna() & communes["population"].notna()
    print(f"planning: {int((~usable).sum())} communes without position or population skipped")
    communes = communes[usable].reset_index(drop=True)
    national(communes)
    national_pmedian(communes)
    regional(communes)
    covering_models(communes)


if __name__ == "__main__":
    if sys.argv[1:2] == ["--spopt"]:
        _spopt_child(sys.argv[2], float(sys.argv[3]))
    else:
        main()
