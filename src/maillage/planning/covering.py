"""Location set covering (LSCP) and p-center, exact with HiGHS and a certified gap.

- LSCP (Toregas, Swain, ReVelle & Bergman, "The location of emergency service facilities",
  Operations Research 19, 1971): the fewest new sites such that every origin with demand is
  within the cut-off of an open site; origins an existing site already reaches need nothing.
- p-center (Hakimi, Operations Research 12, 1964): ``p`` new sites minimising the worst
  minutes from an origin with demand to its nearest open site, existing sites included. It
  is solved as a sequence of covering problems over the sorted distinct travel times
  (Minieka, "The m-center problem", SIAM Review 12, 1970; Daskin, *Network and Discrete
  Location*, 2nd ed., 2013, ch. 5): the answer is the smallest time at which ``p`` sites
  cover everyone, found by binary search, each step a covering MIP that HiGHS stops as soon
  as it proves "``p`` sites suffice" or "more are needed". The largest time proved too short
  bounds the answer from below: that is the certificate when the time limit cuts the search.

Both covering MIPs merge origins reached by the same candidates into one row, and start from
the greedy cover (:func:`~.greedy.lazy_order`, largest number of uncovered rows first).
Origins with demand that no candidate nor existing site reaches within the cut-off cannot
be served by any plan: they are left out and reported (:func:`unreachable`), never dropped
silently.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import highspy
import numpy as np
from scipy import sparse

from .errors import InfeasibleError, PlanningError
from .gains import CoverageGains
from .greedy import lazy_order, opened_state
from .mip import distinct_rows, highs_model
from .problem import PlanningProblem
from .progress import Progress, heartbeat
from .solution import Solution, relative_gap, resequence

#: A MIP bound within this of an integer is that integer (HiGHS' feasibility tolerance).
_INTEGRAL = 1e-6
#: HiGHS' presolve ignores the time limit on large covering matrices (over two minutes on
#: Grand Est at 45 min, 1.5 million nonzeros): beyond this many it is switched off.
PRESOLVE_MAX_NONZEROS = 300_000
#: Rounds of dominated rows and columns removal (each round may expose new dominations).
REDUCTION_ROUNDS = 4
#: Largest Σ (rows per column)² for which the pairwise overlaps of rows and of columns are
#: computed (memory grows with it): Grand Est at 10 min is ~2 million, at 45 min ~500.
MAX_OVERLAPS = 30_000_000


@dataclass(frozen=True)
class Cover:
    """New sites chosen to cover the required origins at one radius, and what was proved.

    ``bound`` is a proved lower bound on the number of new sites needed; ``open`` is None
    when no cover within ``limit`` sites was found.
    """

    open: np.ndarray | None
    sites: int
    bound: int


def unreachable(problem: PlanningProblem) -> np.ndarray:
    """Origins with demand that no candidate, new or existing, reaches within the cut-off."""
    reached = np.bincount(problem.reach.origin, minlength=problem.n_demand) > 0
    return (problem.demand > 0) & ~reached


def solve_covering(
    problem: PlanningProblem,
    time_limit: float,
    population: np.ndarray | None = None,
    on_progress: Progress | None = None,
) -> Solution:
    """The LSCP or p-center plan of ``problem``, certified (see the module docstring)."""
    times: dict[str, float] = {}
    clock = time.perf_counter()
    deadline = clock + time_limit
    if problem.objective == "lscp":
        with heartbeat(on_progress, "cover", time_limit):
            cover = covering(problem, problem.minutes, problem.p, deadline)
        if cover.open is None:
            raise InfeasibleError(
                f"couvrir chaque origine à moins de {problem.minutes:g} min demande plus de "
                f"{problem.p} nouveaux sites (au moins {cover.bound})"
            )
        open_sites, objective, bound = cover.open, float(cover.sites), float(cover.bound)
        times["cover"] = time.perf_counter() - clock
    else:
        with heartbeat(on_progress, "radius", time_limit):
            open_sites, objective, bound = _radius_search(problem, deadline)
        times["radius"] = time.perf_counter() - clock
        open_sites = _complete(problem, open_sites)
    clock = time.perf_counter()
    if on_progress is not None:
        on_progress("sequence", None)
    sequence = resequence(problem, np.flatnonzero(open_sites & ~_existing(problem)), population)
    times["sequence"] = time.perf_counter() - clock
    if on_progress is not None:
        on_progress("done", 1.0)
    gap = relative_gap(objective, bound)
    return Solution(
        sites=np.array([step.site for step in sequence], dtype=np.int64),
        objective=objective,
        bound=bound,
        gap=gap,
        solver="highs",
        status="Optimal" if gap == 0.0 else "Time limit reached",
        start_objective=objective,
        times=times,
        sequence=sequence,
    )


def covering(
    problem: PlanningProblem, radius: float, limit: int, deadline: float, optimal: bool = True
) -> Cover:
    """New sites bringing every reachable origin with demand within ``radius`` of an open
    site, at most ``limit`` of them: the fewest (``optimal``), or the first cover found.

    Without ``optimal`` this is the decision "do ``limit`` sites suffice?": the greedy cover
    answers yes at once when it is small enough, else HiGHS stops at its first cover within
    the limit or once its bound exceeds the limit. ``Cover.open`` is None when no cover
    within the limit was found; ``Cover.bound > limit`` then proves there is none.
    """
    columns, matrix = _requirement(problem, radius)
    if matrix.shape[0] == 0:
        return Cover(_existing(problem), 0, 0)
    picks = _greedy_cover(matrix)
    rows = matrix.tocsr()
    packed = _packing(rows)
    if packed > limit:
        return Cover(None, 0, packed)
    if len(picks) == packed or (not optimal and len(picks) <= limit):
        return _cover(problem, columns[picks], packed)
    n, n_rows = matrix.shape[1], matrix.shape[0]
    cap = limit < n
    if cap:
        rows = sparse.vstack([rows, sparse.csr_matrix(np.ones((1, n)))], format="csr")
    row_lower = np.r_[np.ones(n_rows), [-np.inf] if cap else []]
    row_upper = np.r_[np.full(n_rows, np.inf), [float(limit)] if cap else []]
    h = highs_model(np.ones(n), np.zeros(n), np.ones(n), rows, row_lower, row_upper, n_integer=n)
    start = np.zeros(n)
    start[picks] = 1.0
    if len(picks) <= limit:
        solution = highspy.HighsSolution()
        solution.col_value = start
        solution.value_valid = True
        h.setSolution(solution)

    def decided(event: highspy.highs.HighsCallbackEvent) -> None:
        dual = event.data_out.mip_dual_bound
        beyond = math.isfinite(dual) and math.ceil(dual - _INTEGRAL) > limit
        if beyond or (not optimal and event.data_out.mip_primal_bound <= limit):
            event.interrupt()

    h.setOptionValue("time_limit", max(deadline - time.perf_counter(), 0.1))
    if rows.nnz > PRESOLVE_MAX_NONZEROS:
        h.setOptionValue("presolve", "off")
    # The objective counts sites: a bound within less than one of the incumbent proves it.
    h.setOptionValue("mip_abs_gap", 1.0 - _INTEGRAL)
    h.setOptionValue("mip_rel_gap", 0.0)
    h.cbMipInterrupt.subscribe(decided)
    h.run()
    h.cbMipInterrupt.unsubscribe(decided)
    if h.getModelStatus() == highspy.HighsModelStatus.kInfeasible:
        return Cover(None, 0, limit + 1)
    dual = h.getInfo().mip_dual_bound
    proved = max(math.ceil(dual - _INTEGRAL), packed) if math.isfinite(dual) else packed
    solution = h.getSolution()
    values = np.asarray(solution.col_value)
    chosen = np.flatnonzero(values > 0.5) if solution.value_valid and len(values) == n else picks
    if len(chosen) > limit:
        return Cover(None, 0, proved)
    return _cover(problem, columns[chosen], proved)


def _cover(problem: PlanningProblem, sites: np.ndarray, bound: int) -> Cover:
    open_sites = _existing(problem)
    open_sites[sites] = True
    return Cover(open_sites, len(sites), min(bound, len(sites)))


def _requirement(
    problem: PlanningProblem, radius: float, reduce: bool = True
) -> tuple[np.ndarray, sparse.csc_matrix]:
    """New candidates that matter and the distinct rows (required origins) they cover,
    dominated rows and candidates removed if ``reduce``.

    Required: origins with demand, within the cut-off of some candidate, and not within
    ``radius`` of an existing site.
    """
    r = problem.reach
    near = r.minutes <= radius
    served = np.zeros(problem.n_demand, dtype=bool)
    served[r.origin[near & _existing(problem)[r.destination]]] = True
    reached = np.bincount(r.origin, minlength=problem.n_demand) > 0
    required = (problem.demand > 0) & reached & ~served
    keep = near & required[r.origin] & ~_existing(problem)[r.destination]
    if np.any(required & (np.bincount(r.origin[keep], minlength=problem.n_demand) == 0)):
        raise InfeasibleError(f"une origine n'a aucun candidat à moins de {radius:g} min")
    columns, column = np.unique(r.destination[keep], return_inverse=True)
    row_of = np.cumsum(required) - 1
    matrix = sparse.csr_matrix(
        (np.ones(int(keep.sum())), (row_of[r.origin[keep]], column.ravel())),
        shape=(int(required.sum()), len(columns)),
    )
    if matrix.shape[0] == 0:
        return columns, matrix.tocsc()
    matrix.sum_duplicates()
    first, _ = distinct_rows(matrix)
    distinct = matrix[first].tocsc()
    return _reduce(columns, distinct) if reduce else (columns, distinct)


def _reduce(columns: np.ndarray, matrix: sparse.csc_matrix) -> tuple[np.ndarray, sparse.csc_matrix]:
    """Drop dominated columns (a candidate covering a subset of another's rows: with unit
    costs the other can always replace it; of identical ones the first stays) and dominated
    rows (covering a row that contains another row's candidates is implied), while the
    pairwise overlaps stay small enough to compute (:data:`MAX_OVERLAPS`)."""
    for _ in range(REDUCTION_ROUNDS):
        size = np.diff(matrix.indptr)
        rows = matrix.tocsr()
        length = np.diff(rows.indptr)
        if max(int(size @ size), int(length @ length)) > MAX_OVERLAPS:
            break
        o = (matrix.T @ matrix).tocoo()
        inside = (o.row != o.col) & (o.data == size[o.row])
        drop = inside & ((size[o.row] < size[o.col]) | (o.row > o.col))
        keep = np.ones(matrix.shape[1], dtype=bool)
        keep[o.row[drop]] = False
        matrix, columns = matrix[:, keep], columns[keep]
        rows = matrix.tocsr()
        length = np.diff(rows.indptr)
        o = (rows @ rows.T).tocoo()
        contains = (o.row != o.col) & (o.data == length[o.col])
        drop = contains & ((length[o.row] > length[o.col]) | (o.row > o.col))
        implied = np.ones(rows.shape[0], dtype=bool)
        implied[o.row[drop]] = False
        if keep.all() and implied.all():
            break
        matrix = rows[implied].tocsc()
    return columns, matrix


def _packing(rows: sparse.csr_matrix) -> int:
    """Rows no two of which share a candidate, picked greedily shortest first: each needs a
    site of its own, so their number bounds any cover from below (a feasible solution of the
    covering LP's dual) — the classic p-center bound of origins more than 2r apart."""
    used = np.zeros(rows.shape[1], dtype=bool)
    count = 0
    for row in np.argsort(np.diff(rows.indptr), kind="stable"):
        candidates = rows.indices[rows.indptr[row] : rows.indptr[row + 1]]
        if not used[candidates].any():
            used[candidates] = True
            count += 1
    return count


class _RowCover(CoverageGains):
    """Greedy-cover gains: the rows of ``matrix`` each column would newly cover."""

    def __init__(self, matrix: sparse.csc_matrix) -> None:
        self._a, self._ptr, self._rows = matrix, matrix.indptr, matrix.indices
        self._w = np.ones(matrix.shape[0])
        self._covered = np.zeros(matrix.shape[0], dtype=bool)

    @property
    def done(self) -> bool:
        return bool(self._covered.all())


def _greedy_cover(matrix: sparse.csc_matrix) -> np.ndarray:
    """Columns of the greedy cover (Chvátal 1979), largest number of uncovered rows first."""
    state = _RowCover(matrix)
    picks: list[int] = []
    for column, _gain in lazy_order(state, np.arange(matrix.shape[1]), matrix.shape[1]):
        picks.append(column)
        if state.done:
            break
    return np.array(picks, dtype=np.int64)


def _radius_search(problem: PlanningProblem, deadline: float) -> tuple[np.ndarray, float, float]:
    """Binary search on the radius: the open sites, their worst minutes, the proved bound."""
    r = problem.reach
    nearest = np.full(problem.n_demand, np.inf)
    np.minimum.at(nearest, r.origin, r.minutes)
    counted = (problem.demand > 0) & np.isfinite(nearest)
    floor = float(nearest[counted].max(initial=0.0))
    radii = np.unique(r.minutes[counted[r.origin] & (r.minutes >= floor)])
    if len(radii) == 0:
        return _existing(problem), 0.0, 0.0
    top_deadline = time.perf_counter() + (deadline - time.perf_counter()) / 2.0
    top = covering(problem, float(radii[-1]), problem.p, top_deadline, optimal=False)
    if top.open is None and top.bound <= problem.p:
        raise PlanningError(
            f"aucune couverture par {problem.p} nouveaux sites trouvée dans le temps imparti"
        )
    if top.open is None:
        raise InfeasibleError(
            f"{problem.p} nouveaux sites ne peuvent mettre chaque origine à moins de "
            f"{problem.minutes:g} min (il en faut au moins {top.bound}) : augmenter la portée "
            "ou le nombre de sites"
        )
    best = top.open
    high = int(np.searchsorted(radii, worst_minutes(problem, best)))
    proved = _packing_floor(problem, radii, high, deadline)  # radii below it are too short
    low = proved
    while low < high and time.perf_counter() < deadline:
        middle = (low + high) // 2
        # Share the time left among the steps left, so that one undecided step does not
        # end the search: the search goes on above it, the bound stays where it was proved.
        steps = max(math.ceil(math.log2(high - low + 1)), 1)
        step_deadline = time.perf_counter() + (deadline - time.perf_counter()) / steps
        cover = covering(problem, float(radii[middle]), problem.p, step_deadline, optimal=False)
        if cover.open is not None:
            best = cover.open
            high = int(np.searchsorted(radii, worst_minutes(problem, best)))
        else:
            low = middle + 1
            if cover.bound > problem.p:
                proved = low
    return best, worst_minutes(problem, best), float(radii[proved])


def _packing_floor(problem: PlanningProblem, radii: np.ndarray, high: int, deadline: float) -> int:
    """Index of the smallest radius not proved too short by the packing bound, found by
    binary search below ``high`` (the packing shrinks as the radius grows). A packing
    takes well under a second where a covering MIP may not decide in minutes, so it is
    where most of the certified bound comes from on regional instances."""
    low = 0
    while low < high and time.perf_counter() < deadline:
        middle = (low + high) // 2
        _, matrix = _requirement(problem, float(radii[middle]), reduce=False)
        if matrix.shape[0] and _packing(matrix.tocsr()) > problem.p:
            low = middle + 1
        else:
            high = middle
    return low


def worst_minutes(problem: PlanningProblem, open_sites: np.ndarray) -> float:
    """The p-center objective: the longest trip from an origin with demand (that some
    candidate reaches) to its nearest open site; inf if one has none in reach."""
    r = problem.reach
    nearest = np.full(problem.n_demand, np.inf)
    k = open_sites[r.destination]
    np.minimum.at(nearest, r.origin[k], r.minutes[k])
    counted = (problem.demand > 0) & ~unreachable(problem)
    return float(nearest[counted].max(initial=0.0))


def _complete(problem: PlanningProblem, open_sites: np.ndarray) -> np.ndarray:
    """Up to ``p`` new sites: those the radius needs, then the ones that save the most
    demand-weighted minutes (they cannot lengthen the worst trip)."""
    chosen = np.flatnonzero(open_sites & ~_existing(problem))
    missing = problem.p - len(chosen)
    if missing <= 0:
        return open_sites
    state = opened_state(problem)
    for opened in chosen:
        state.add(int(opened))
    others = np.flatnonzero(~open_sites)
    completed = open_sites.copy()
    for site, _gain in lazy_order(state, others, missing):
        completed[site] = True
    return completed


def _existing(problem: PlanningProblem) -> np.ndarray:
    """A copy of the existing-site mask (validated to a boolean array by the problem)."""
    return np.array(problem.existing, dtype=bool)
