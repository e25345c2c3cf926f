"""The exact models, built sparse for HiGHS: only pairs within the cut-off become columns.

Columns are the site variables ``x`` (binary; existing sites fixed to 1) followed by:

- uncapacitated ``coverage`` (MCLP): ``y_i`` ∈ [0, 1] for each origin with demand and reach,
  ``y_i − Σ_{j∈N(i)} x_j ≤ 0``, maximise ``Σ w_i y_i`` (origins with the same catchment
  share one ``y``; see :func:`_coverage_links`);
- ``pmedian`` and capacitated models: ``z_k`` ∈ [0, 1] per pair k = (i, j) within reach
  (fraction of i served by j), ``z_k − x_j ≤ 0``, and per origin ``Σ_k z_k ≤ 1`` (coverage)
  or ``Σ_k z_k + u_i = 1`` with ``u_i`` the unserved fraction charged the penalty (p-median);
  capacity adds ``Σ_k load_i z_k − C_j x_j ≤ 0`` per candidate.

Every model has ``Σ_{new} x_j = p``, the per-group quota rows and the budget row. Rows are
assembled as one scipy CSR matrix and handed to HiGHS in a single ``passModel`` call.
"""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import highspy
import numpy as np
from scipy import sparse

from .problem import PlanningProblem
from .progress import Progress, heartbeat

#: Interior point (with crossover) solves the regional coverage LP ~5× faster than dual
#: simplex (Grand Est, 5,115 candidates: 2–4 s against 10–30 s) but ~2× slower nationally
#: (34,852 candidates: 36 s against 20 s), hence a switch on size, as measured.
IPM_MAX_CANDIDATES = 20_000


@dataclass(frozen=True)
class MipResult:
    """What HiGHS certified: the best set found, its value, the bound and the status."""

    open: np.ndarray  # bool over candidates, existing sites included
    objective: float
    bound: float
    status: str


class Model:
    """One HiGHS instance holding the problem's MIP, ready to be warm-started and solved."""

    def __init__(self, problem: PlanningProblem) -> None:
        self.problem = problem
        self._links = _coverage_links(problem) if _is_mclp(problem) else None
        self._blocks = _columns(problem, self._links)
        cost, lower, upper, rows, row_lower, row_upper = self._blocks
        self._offset = _unreached_cost(problem)
        self.highs = highs_model(
            cost,
            lower,
            upper,
            rows,
            row_lower,
            row_upper,
            n_integer=problem.n_candidates,
            maximise=problem.maximise,
            offset=self._offset,
        )
        self._cost = cost

    def start(self, open_sites: np.ndarray) -> np.ndarray:
        """Column values of the best assignment for a fixed set of open sites.

        Uncapacitated models assign each origin to its nearest open site; capacitated ones
        solve the assignment LP with the site variables fixed.
        """
        problem, n_cand = self.problem, self.problem.n_candidates
        x = open_sites.astype(float)
        if self._links is not None:
            return np.concatenate([x, (self._links[0] @ x > 0).astype(float)])
        if problem.capacity is None:
            return np.concatenate([x, _nearest_assignment(problem, open_sites)])
        h = self.highs
        _, lower, upper, *_ = self._blocks
        index = np.arange(n_cand, dtype=np.int32)
        h.changeColsBounds(n_cand, index, x, x)
        h.setOptionValue("time_limit", np.inf)
        _run(h)
        values = np.asarray(h.getSolution().col_value)
        h.changeColsBounds(n_cand, index, lower[:n_cand], upper[:n_cand])
        h.clearSolver()
        return values

    def relax(
        self, time_limit: float, on_progress: Progress | None = None
    ) -> tuple[float | None, np.ndarray, np.ndarray]:
        """LP relaxation: its optimum bounds the MIP, its solution guides the restricted MIP.

        Returns the bound (None if the LP did not reach optimality in time), the site values
        and their reduced costs (in the objective's sense: nearer 0 = more promising).
        """
        h, n_cand = self.highs, self.problem.n_candidates
        index = np.arange(n_cand, dtype=np.int32)
        h.changeColsIntegrality(n_cand, index, np.zeros(n_cand, dtype=np.uint8))
        h.setOptionValue("time_limit", float(time_limit))
        h.setOptionValue("solver", "ipm" if n_cand <= IPM_MAX_CANDIDATES else "simplex")
        with heartbeat(on_progress, "lp", time_limit):
            _run(h)
        h.setOptionValue("solver", "choose")
        solved = h.getModelStatus() == highspy.HighsModelStatus.kOptimal
        bound = float(h.getInfo().objective_function_value) if solved else None
        lp = h.getSolution()
        x = np.asarray(lp.col_value)[:n_cand] if solved else np.zeros(n_cand)
        reduced = np.asarray(lp.col_dual)[:n_cand] if solved else np.zeros(n_cand)
        h.changeColsIntegrality(n_cand, index, np.ones(n_cand, dtype=np.uint8))
        h.clearSolver()
        return bound, x, reduced if self.problem.maximise else -reduced

    def objective(self, values: np.ndarray) -> float:
        return float(self._cost @ values) + self._offset

    def solve(
        self,
        start: np.ndarray,
        time_limit: float,
        mip_gap: float,
        on_progress: Callable[[str, float | None], None] | None = None,
        *,
        stage: str = "mip",
        bound: float | None = None,
        settle: bool = False,
    ) -> MipResult:
        """Solve from the ``start`` solution under ``time_limit`` seconds.

        HiGHS stops at its own relative gap ``mip_gap``, or as soon as its incumbent is
        within ``mip_gap`` of ``bound`` — a bound proved elsewhere (the full model's LP when
        this model is a restriction of it). With ``settle``, it also stops once it has held an
        incumbent better than the start for as long as it took to find the first one: when a
        faster search takes over from there, proving this model's optimum is wasted time,
        and a limit in seconds alone would depend on how loaded the machine is.
        """
        h = self.highs
        h.setOptionValue("time_limit", float(time_limit))
        h.setOptionValue("mip_rel_gap", float(mip_gap))
        solution = highspy.HighsSolution()
        solution.col_value = start
        solution.value_valid = True
        h.setSolution(solution)
        began = time.perf_counter()
        sign = 1.0 if self.problem.maximise else -1.0
        start_value = self.objective(start)
        improved_at = np.inf

        def watch(event: highspy.highs.HighsCallbackEvent) -> None:
            nonlocal improved_at
            now = time.perf_counter() - began
            if on_progress is not None:
                on_progress(stage, min(now / time_limit, 1.0))
            incumbent = event.data_out.mip_primal_bound
            if bound is not None and abs(bound - incumbent) <= mip_gap * abs(incumbent):
                event.interrupt()
            if settle and sign * (incumbent - start_value) > 1e-9 * max(abs(start_value), 1.0):
                improved_at = min(improved_at, now)
                if now >= 2.0 * improved_at:
                    event.interrupt()

        h.cbMipInterrupt.subscribe(watch)
        try:
            with heartbeat(on_progress, stage, time_limit):
                _run(h)
        finally:
            h.cbMipInterrupt.unsubscribe(watch)
        status = h.modelStatusToString(h.getModelStatus())
        info = h.getInfo()
        values = np.asarray(h.getSolution().col_value)
        if len(values) != len(start) or not h.getSolution().value_valid:
            values = start
        n_cand = self.problem.n_candidates
        return MipResult(
            open=values[:n_cand] > 0.5,
            objective=self.objective(values),
            bound=float(info.mip_dual_bound),
            status=status,
        )


def highs_model(
    cost: np.ndarray,
    lower: np.ndarray,
    upper: np.ndarray,
    rows: sparse.csr_matrix,
    row_lower: np.ndarray,
    row_upper: np.ndarray,
    n_integer: int,
    maximise: bool = False,
    offset: float = 0.0,
) -> highspy.Highs:
    """A silent HiGHS holding the model, its first ``n_integer`` columns integer, handed over
    in one ``passModel`` call with the rows as one CSR matrix."""
    lp = highspy.HighsLp()
    lp.num_col_, lp.num_row_ = len(cost), rows.shape[0]
    lp.sense_ = highspy.ObjSense.kMaximize if maximise else highspy.ObjSense.kMinimize
    lp.col_cost_, lp.col_lower_, lp.col_upper_ = cost, lower, upper
    lp.row_lower_, lp.row_upper_ = row_lower, row_upper
    matrix = lp.a_matrix_
    matrix.format_ = highspy.MatrixFormat.kRowwise
    matrix.num_col_, matrix.num_row_ = len(cost), rows.shape[0]
    matrix.start_, matrix.index_, matrix.value_ = rows.indptr, rows.indices, rows.data
    lp.integrality_ = [highspy.HighsVarType.kInteger] * n_integer + [
        highspy.HighsVarType.kContinuous
    ] * (len(cost) - n_integer)
    lp.offset_ = offset
    highs = _QuietHighs()
    highs.passModel(lp)
    return highs


def _run(highs: highspy.Highs) -> None:
    """``highs.run()``, stopped by Ctrl-C at HiGHS' next iteration (then KeyboardInterrupt).

    Python runs a signal handler only between bytecodes, so a Ctrl-C during ``run()`` would
    wait until the solve ends (a national LP takes the whole time limit) and an exception
    raised inside a callback is lost in HiGHS. During the solve Ctrl-C only sets a flag, and
    HiGHS' interrupt callbacks (Python calls between its iterations, where the flag is seen)
    ask it to stop. Outside the main thread (a web job), or where Ctrl-C is handled otherwise
    or ignored, the solve runs as it is.
    """
    if (
        threading.current_thread() is not threading.main_thread()
        or signal.getsignal(signal.SIGINT) is not signal.default_int_handler
    ):
        highs.run()
        return
    asked = threading.Event()

    def stop_when_asked(event: highspy.highs.HighsCallbackEvent) -> None:
        if asked.is_set():
            event.interrupt()

    callbacks = (highs.cbSimplexInterrupt, highs.cbIpmInterrupt, highs.cbMipInterrupt)
    previous = signal.signal(signal.SIGINT, lambda signum, frame: asked.set())
    for callback in callbacks:
        callback.subscribe(stop_when_asked)
    try:
        highs.run()
    finally:
        for callback in callbacks:
            callback.unsubscribe(stop_when_asked)
        signal.signal(signal.SIGINT, previous)
    if asked.is_set():
        raise KeyboardInterrupt


class _QuietHighs(highspy.Highs):
    """``highspy.Highs`` silent from the start.

    HiGHS prints its banner on stdout as soon as its constructor enables callbacks, before
    any option can be set on the object (and it cannot be switched off on its own), so the
    output flag is turned off just before that step.
    """

    def enableCallbacks(self) -> None:
        self.setOptionValue("output_flag", False)
        super().enableCallbacks()


def _active(problem: PlanningProblem) -> np.ndarray:
    """Origins that matter: some demand and at least one candidate within reach."""
    reached = np.bincount(problem.reach.origin, minlength=problem.n_demand) > 0
    return np.flatnonzero(reached & (problem.demand > 0))


def _unreached_cost(problem: PlanningProblem) -> float:
    """p-median cost of the demand no candidate reaches: a constant, kept out of the model."""
    if problem.maximise:
        return 0.0
    reached = np.bincount(problem.reach.origin, minlength=problem.n_demand) > 0
    return float(problem.demand[~reached].sum() * problem.penalty)


def _is_mclp(problem: PlanningProblem) -> bool:
    return problem.capacity is None and problem.objective == "coverage"


def _coverage_links(problem: PlanningProblem) -> tuple[sparse.csr_matrix, np.ndarray, np.ndarray]:
    """MCLP demand merged by catchment pattern: origins reached by the same candidates share
    one ``y`` (weights summed), and an origin only one candidate reaches needs no ``y`` at
    all: its weight goes straight onto that candidate. Exact, and it shrinks the restricted
    MIP — where most origins see one or two kept candidates — many times over.

    Returns the rows (patterns × candidates) of the shared ``y``s, their weights, and the
    weight each candidate carries directly.
    """
    active = _active(problem)
    rows = problem.incidence.tocsr()[active]
    first, pattern = distinct_rows(rows)
    weight = np.bincount(pattern, weights=problem.demand[active])
    single = np.diff(rows.indptr)[first] == 1
    direct = np.bincount(
        rows.indices[rows.indptr[first[single]]],
        weights=weight[single],
        minlength=problem.n_candidates,
    )
    return rows[first[~single]], weight[~single], direct


def distinct_rows(rows: sparse.csr_matrix) -> tuple[np.ndarray, np.ndarray]:
    """First row and pattern number of each row of a 0/1 matrix without empty rows: rows on
    the same columns share a pattern (keyed by their length and two salted 64-bit sums of
    their columns, so a collision is vanishingly unlikely). Sorts ``rows``' indices."""
    rows.sort_indices()
    salt = np.random.default_rng(0).integers(0, 2**63, (2, rows.shape[1]), dtype=np.uint64)
    starts = rows.indptr[:-1]
    keys = np.column_stack(
        [np.diff(rows.indptr).astype(np.uint64)]
        + [np.add.reduceat(h[rows.indices], starts) for h in salt]
    )
    _, first, pattern = np.unique(keys, axis=0, return_index=True, return_inverse=True)
    return first, pattern.ravel()


def _model_pairs(problem: PlanningProblem) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Origin, candidate and minutes of the reach pairs whose origin is active."""
    r = problem.reach
    keep = np.isin(r.origin, _active(problem))
    return r.origin[keep], r.destination[keep], r.minutes[keep]


def _nearest_assignment(problem: PlanningProblem, open_sites: np.ndarray) -> np.ndarray:
    """z and u of the p-median columns: each origin to its nearest open site, or unserved."""
    o, d, m = _model_pairs(problem)
    k = np.flatnonzero(open_sites[d] & (m < problem.penalty))
    k = k[np.lexsort((m[k], o[k]))]
    first = k[np.r_[True, o[k][1:] != o[k][:-1]]] if len(k) else k
    z = np.zeros(len(o))
    z[first] = 1.0
    served = np.zeros(problem.n_demand, dtype=bool)
    served[o[first]] = True
    return np.concatenate([z, (~served[_active(problem)]).astype(float)])


def _columns(
    problem: PlanningProblem, mclp: tuple | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray, sparse.csr_matrix, np.ndarray, np.ndarray]:
    """Objective, bounds and rows (CSR) of the model, assembled from sparse blocks."""
    n_cand, w = problem.n_candidates, problem.demand
    x_lower = problem.existing.astype(float)
    if mclp is not None:
        links, weight, direct = mclp
        n_y = links.shape[0]
        cost = np.concatenate([direct, weight])
        lower, upper = np.concatenate([x_lower, np.zeros(n_y)]), np.ones(n_cand + n_y)
        blocks = [sparse.hstack([-links, sparse.identity(n_y)])]
        row_lower, row_upper = [np.full(n_y, -np.inf)], [np.zeros(n_y)]
    else:
        active = _active(problem)
        o, d, m = _model_pairs(problem)
        n_z, n_a = len(o), len(active)
        median = problem.objective == "pmedian"
        n_u = n_a if median else 0
        position = np.full(problem.n_demand, -1)
        position[active] = np.arange(n_a)
        pair_w = w[o]
        cost = np.concatenate(
            [np.zeros(n_cand)] + ([pair_w * m, w[active] * problem.penalty] if median else [pair_w])
        )
        lower = np.concatenate([x_lower, np.zeros(n_z + n_u)])
        upper = np.ones(n_cand + n_z + n_u)
        pairs = np.arange(n_z)
        pick = sparse.csr_matrix((np.ones(n_z), (pairs, d)), shape=(n_z, n_cand))
        assign = sparse.csr_matrix((np.ones(n_z), (position[o], pairs)), shape=(n_a, n_z))
        blocks = [
            sparse.hstack([-pick, sparse.identity(n_z), sparse.csr_matrix((n_z, n_u))]),
            sparse.hstack(
                [sparse.csr_matrix((n_a, n_cand)), assign]
                + ([sparse.identity(n_u)] if median else [])
            ),
        ]
        row_lower = [np.full(n_z, -np.inf), np.ones(n_a) if median else np.full(n_a, -np.inf)]
        row_upper = [np.zeros(n_z), np.ones(n_a)]
        if problem.capacity is not None:
            load = sparse.csr_matrix((problem.load[o], (d, pairs)), shape=(n_cand, n_z))
            blocks.append(
                sparse.hstack(
                    [sparse.diags(-problem.capacity), load, sparse.csr_matrix((n_cand, n_u))]
                )
            )
            row_lower.append(np.full(n_cand, -np.inf))
            row_upper.append(np.zeros(n_cand))
    n_extra = len(cost) - n_cand
    site_rows, site_lower, site_upper = _site_rows(problem)
    blocks.append(sparse.hstack([site_rows, sparse.csr_matrix((site_rows.shape[0], n_extra))]))
    row_lower.append(site_lower)
    row_upper.append(site_upper)
    rows = sparse.vstack(blocks, format="csr")
    rows.sum_duplicates()
    return (
        cost.astype(float),
        lower,
        upper,
        rows,
        np.concatenate(row_lower),
        np.concatenate(row_upper),
    )


def _site_rows(problem: PlanningProblem) -> tuple[sparse.csr_matrix, np.ndarray, np.ndarray]:
    """Rows on the site variables alone: exactly p new sites, quotas per group, budget."""
    n_cand, new = problem.n_candidates, ~problem.existing
    completion = problem.completion
    limited = np.flatnonzero((completion.lower > 0) | np.isfinite(completion.upper))
    member = new & np.isin(completion.group, limited)
    group_row = np.searchsorted(limited, completion.group[member]) + 1
    rows = [np.zeros(new.sum(), dtype=int), group_row]
    cols = [np.flatnonzero(new), np.flatnonzero(member)]
    vals = [np.ones(new.sum()), np.ones(member.sum())]
    lower = [np.array([problem.p]), completion.lower[limited]]
    upper = [np.array([problem.p]), completion.upper[limited]]
    if problem.budget is not None:
        rows.append(np.full(new.sum(), len(limited) + 1))
        cols.append(np.flatnonzero(new))
        vals.append(completion.cost[new])
        lower.append(np.array([-np.inf]))
        upper.append(np.array([problem.budget]))
    n_rows = 1 + len(limited) + (problem.budget is not None)
    matrix = sparse.csr_matrix(
        (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
        shape=(n_rows, n_cand),
    )
    return matrix, np.concatenate(lower).astype(float), np.concatenate(upper).astype(float)
