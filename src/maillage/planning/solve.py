"""Solve a planning problem: a heuristic answer at once, then HiGHS to improve and certify it.

The exact phase runs in up to four steps under one time limit:

1. the LP relaxation of the full sparse model gives the bound (and, on the national
   coverage instance, takes most of the time); if it is not solved within ``LP_SHARE`` of
   the time limit, a Lagrangian bound (:mod:`.lagrangian`) takes its place, so a plan stopped
   by its time limit still has a certified bound;
2. a MIP restricted to the candidates the LP uses (plus the heuristic's) finds a near-optimal
   set fast — the LP support is a few hundred candidates out of tens of thousands;
3. for coverage without capacity, quotas or budget, if the gap is still above ``mip_gap``, a
   window search (:mod:`.windows`) re-places clusters of sites exactly, area by area — the
   restricted MIP then only gets ``RESTRICTED_SHARE`` of the time, and stops soon after its
   first better set;
4. only if the gap is still above ``mip_gap``, the full MIP, warm-started with the best set,
   uses the time left to improve either side.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from typing import Literal

import numpy as np

from .covering import solve_covering
from .errors import InfeasibleError, PlanningError
from .greedy import Progress, greedy
from .lagrangian import LagrangianResult, lagrangian_bound
from .mip import MipResult, Model
from .problem import COVERING, PlanningProblem
from .solution import Solution, relative_gap, resequence
from .swap import SWAP_ROUNDS_PER_SITE, improve
from .windows import improve_windows

#: Share of the time limit the restricted MIP may use when a window search follows it: its
#: first incumbents come fast, proving its optimum takes long, and windows then do better.
RESTRICTED_SHARE = 0.3

#: Below this many seconds left, the full MIP is not worth starting.
MIN_MIP_SECONDS = 1.0

#: Share of the time limit the LP relaxation may use: if it is not solved by then (a
#: national p-median on a loaded machine), the Lagrangian bound takes the rest, so that a
#: plan always comes with a certified bound.
LP_SHARE = 0.7

#: Seconds the Lagrangian bound may run even past a time limit too short for it.
LAGRANGIAN_MIN_SECONDS = 2.0

#: Share of the time limit the Lagrangian bound may use when it goes first (p-median).
LAGRANGIAN_SHARE = 0.15


def solve(
    problem: PlanningProblem,
    *,
    method: Literal["exact", "greedy"] = "exact",
    time_limit: float = 60.0,
    mip_gap: float = 1e-4,
    population: np.ndarray | None = None,
    on_progress: Progress | None = None,
) -> Solution:
    """Choose the ``p`` new sites.

    ``greedy`` stops after the lazy greedy (followed, without capacity, by a swap
    local search); ``exact`` then certifies and improves it with HiGHS (see the module
    docstring), stopping at relative gap ``mip_gap`` or after ``time_limit`` seconds of
    exact solving. ``population`` only feeds the per-site ``covered`` figure.
    ``on_progress(stage, fraction)`` is called with stages ``greedy``, ``swap``, ``build``,
    ``lp``, ``lagrangian``, ``restricted`` (window search included), ``mip``, ``cover``
    (LSCP), ``radius`` (p-center), ``sequence`` and ``done`` (the keys of
    :data:`.progress.STAGE_LABELS`), at least every :data:`.progress.INTERVAL` seconds while
    HiGHS runs; ``fraction`` may be None. ``lscp`` and ``pcenter`` are solved by
    :mod:`.covering`, exactly only.
    """
    if method not in ("exact", "greedy"):
        raise PlanningError(f"méthode inconnue {method!r}")
    if time_limit <= 0 or not 0 <= mip_gap < 1:
        raise PlanningError("time_limit doit être positif et mip_gap dans [0, 1)")
    if problem.objective in COVERING:
        if method != "exact":
            raise PlanningError(f"{problem.objective} ne se résout qu'exactement")
        return solve_covering(problem, time_limit, population, on_progress)
    report = on_progress or (lambda stage, fraction: None)
    times: dict[str, float] = {}
    clock = time.perf_counter()
    report("greedy", 0.0)
    picks = greedy(problem, on_progress)
    times["greedy"] = time.perf_counter() - clock
    if problem.capacity is None:
        clock = time.perf_counter()
        report("swap", None)
        picks = improve(problem, picks, max_rounds=SWAP_ROUNDS_PER_SITE * problem.p)
        times["swap"] = time.perf_counter() - clock
    open_sites = problem.existing.copy()
    open_sites[picks] = True

    if method == "greedy" and problem.capacity is None:
        start_value = evaluate(problem, open_sites)
        result = MipResult(open_sites, start_value, np.nan, "greedy")
    else:
        clock = time.perf_counter()
        report("build", None)
        model = Model(problem)
        start_value = model.objective(model.start(open_sites))
        times["build"] = time.perf_counter() - clock
        result = MipResult(open_sites, start_value, np.nan, "greedy")
        if method == "exact":
            result = _certify(model, result, time_limit, mip_gap, times, report)

    clock = time.perf_counter()
    report("sequence", None)
    sequence = resequence(problem, np.flatnonzero(result.open & ~problem.existing), population)
    times["sequence"] = time.perf_counter() - clock
    report("done", 1.0)
    certified = not np.isnan(result.bound)
    return Solution(
        sites=np.array([step.site for step in sequence], dtype=np.int64),
        objective=result.objective,
        bound=result.bound if certified else None,
        gap=relative_gap(result.objective, result.bound) if certified else None,
        solver="highs" if certified else "greedy",
        status=result.status,
        start_objective=start_value,
        times=times,
        sequence=sequence,
    )


def _certify(
    model: Model,
    best: MipResult,
    time_limit: float,
    mip_gap: float,
    times: dict[str, float],
    report: Progress,
) -> MipResult:
    """Lagrangian or LP bound, restricted MIP, window search, then the full MIP if the gap
    is still wide."""
    problem = model.problem
    deadline = time.perf_counter() + time_limit
    sign = 1.0 if problem.maximise else -1.0
    relaxed = None
    if _lagrangian_first(problem):
        seconds = max(LAGRANGIAN_SHARE * time_limit, LAGRANGIAN_MIN_SECONDS)
        best, relaxed = _lagrangian(problem, best, seconds, mip_gap, times, report)
        if best.status == "Optimal":
            return best

    clock = time.perf_counter()
    lp_limit = min(LP_SHARE * time_limit, max(deadline - clock, 0.1))
    bound, x, reduced = model.relax(lp_limit, report)
    times["lp"] = time.perf_counter() - clock
    if bound is None:
        # The full MIP would start from this very LP: the subgradient gets the time left.
        left = max(deadline - time.perf_counter(), LAGRANGIAN_MIN_SECONDS)
        best, _ = _lagrangian(problem, best, left, mip_gap, times, report, resume=relaxed)
        return best

    if bound is not None:
        clock = time.perf_counter()
        report("restricted", None)
        windows = _windows_apply(problem)
        keep = _kernel(problem, x, reduced, best.open, extra=0 if windows else problem.p)
        sub = problem.restrict(keep)
        sub_model = Model(sub)
        share = RESTRICTED_SHARE * time_limit if windows else np.inf
        found = sub_model.solve(
            sub_model.start(best.open[keep]),
            max(min(deadline - time.perf_counter(), share), 0.1),
            mip_gap,
            report,
            stage="restricted",
            bound=bound,
            settle=windows,
        )
        if sign * found.objective > sign * best.objective:
            open_sites = np.zeros(problem.n_candidates, dtype=bool)
            open_sites[keep[found.open]] = True
            best = MipResult(open_sites, found.objective, best.bound, found.status)
        if problem.capacity is None:
            best = _polish(problem, best)
        times["restricted"] = time.perf_counter() - clock
        if windows and relative_gap(best.objective, bound) > mip_gap:
            clock = time.perf_counter()
            found_open = improve_windows(
                problem, best.open, deadline, enough=bound / (1.0 + mip_gap)
            )
            value = evaluate(problem, found_open)
            if value > best.objective:
                best = MipResult(found_open, value, best.bound, best.status)
            times["windows"] = time.perf_counter() - clock
        bound = _tighter(sign, bound, best.bound)
        status = "Optimal" if relative_gap(best.objective, bound) <= mip_gap else "Gap above target"
        best = MipResult(best.open, best.objective, bound, status)

    left = deadline - time.perf_counter()
    if best.status != "Optimal" and left > MIN_MIP_SECONDS:
        clock = time.perf_counter()
        report("mip", 0.0)
        result = model.solve(model.start(best.open), left, mip_gap, report)
        times["mip"] = time.perf_counter() - clock
        if result.status == "Infeasible":
            raise InfeasibleError(
                "HiGHS a prouvé que les quotas et le budget ne peuvent être respectés"
            )
        if sign * result.objective > sign * best.objective:
            best = MipResult(result.open, result.objective, best.bound, result.status)
        tighter = _tighter(sign, best.bound, result.bound)
        status = "Optimal" if relative_gap(best.objective, tighter) <= mip_gap else result.status
        best = MipResult(best.open, best.objective, tighter, status)
    return best


def _lagrangian(
    problem: PlanningProblem,
    best: MipResult,
    seconds: float,
    mip_gap: float,
    times: dict[str, float],
    report: Progress,
    resume: LagrangianResult | None = None,
) -> tuple[MipResult, LagrangianResult]:
    """``best`` with the Lagrangian bound, or the better plan the subgradient met, and the
    subgradient's state (to ``resume`` it later)."""
    clock = time.perf_counter()
    relaxed = lagrangian_bound(
        problem,
        best.open,
        best.objective,
        clock + seconds,
        mip_gap,
        value=_plan_value(problem),
        on_progress=report,
        resume=resume,
    )
    times["lagrangian"] = times.get("lagrangian", 0.0) + time.perf_counter() - clock
    bound = _tighter(1.0 if problem.maximise else -1.0, relaxed.bound, best.bound)
    optimal = relative_gap(relaxed.objective, bound) <= mip_gap
    status = "Optimal" if optimal else "Time limit reached"
    return MipResult(relaxed.open, relaxed.objective, bound, status), relaxed


def _lagrangian_first(problem: PlanningProblem) -> bool:
    """The uncapacitated p-median's Lagrangian bound reaches its LP bound in a fraction of the
    LP's time (30× sooner on 3,000 communes), so it goes first; coverage's converges slower
    than its LP, which comes first."""
    return problem.objective == "pmedian" and _plan_value(problem) is not None


def _tighter(sign: float, *bounds: float | None) -> float:
    """The tightest of the bounds proved (upper ones when ``sign`` is 1, lower when −1)."""
    known = [b for b in bounds if b is not None and not np.isnan(b)]
    return sign * min(sign * b for b in known) if known else np.nan


def _kernel(
    problem: PlanningProblem, x: np.ndarray, reduced: np.ndarray, start: np.ndarray, extra: int
) -> np.ndarray:
    """Candidates of the restricted MIP: the LP's support, the start's sites, and ``extra``
    more with the most promising reduced costs (sites the LP nearly used). A window search
    reaches those sites anyway, and without them the restricted MIP finds its first good sets
    ~2× sooner (Grand Est), so it then takes none."""
    kept = (x > 1e-6) | start
    extra = min(extra, int((~kept).sum()))
    others = np.flatnonzero(~kept & ~problem.existing)
    best = others[np.argsort(-reduced[others], kind="stable")[:extra]]
    kept[best] = True
    return np.flatnonzero(kept)


def _polish(problem: PlanningProblem, best: MipResult) -> MipResult:
    """Swap local search from the restricted MIP's set, which may use any candidate."""
    picks = np.flatnonzero(best.open & ~problem.existing)
    picks = improve(problem, picks, max_rounds=SWAP_ROUNDS_PER_SITE * problem.p)
    open_sites = problem.existing.copy()
    open_sites[picks] = True
    value = evaluate(problem, open_sites)
    better = value > best.objective if problem.maximise else value < best.objective
    return MipResult(open_sites, value, best.bound, best.status) if better else best


def _plan_value(problem: PlanningProblem) -> Callable[[np.ndarray], float] | None:
    """The objective of a set of open sites, when any set of ``p`` new sites is a plan."""
    if problem.capacity is not None or problem.completion.constrained:
        return None
    return functools.partial(evaluate, problem)


def _is_mclp(problem: PlanningProblem) -> bool:
    return problem.capacity is None and problem.objective == "coverage"


def _windows_apply(problem: PlanningProblem) -> bool:
    """Window search re-places sites within areas, so quotas and budget rule it out."""
    return _is_mclp(problem) and not problem.completion.constrained


def evaluate(problem: PlanningProblem, open_sites: np.ndarray) -> float:
    """Objective of an uncapacitated plan: nearest open site for everyone (vectorised)."""
    r = problem.reach
    if problem.objective == "coverage":
        covered = np.zeros(problem.n_demand, dtype=bool)
        covered[r.origin[open_sites[r.destination]]] = True
        return float(problem.demand[covered].sum())
    nearest = np.full(problem.n_demand, problem.penalty)
    k = open_sites[r.destination]
    np.minimum.at(nearest, r.origin[k], r.minutes[k])
    return float(problem.demand @ nearest)
