"""Window search for coverage: re-place a cluster of nearby sites exactly, the rest staying put.

Swaps move one site at a time and stall ~1 % short of optimal on large instances, and a MIP
over the LP's candidates cannot use sites outside them (Grand Est: its best set is 0.03 %
short). Coverage only interacts locally, so a large-neighbourhood search fits: a *window* is
``size`` open sites near one another (linked hop by hop through demand they share) with
every candidate sharing demand with them; HiGHS re-places those sites optimally among the
window's candidates, for the demand the other sites leave uncovered. Such sub-MIPs have a few
hundred columns and solve in a fraction of a second. After a gain, a global swap pass makes
the one-site moves between distant areas that windows cannot; once every site has been in a
window since the last gain, windows grow by half.
"""

from __future__ import annotations

import time

import numpy as np
from scipy import sparse

from .mip import Model
from .problem import PlanningProblem
from .swap import SWAP_ROUNDS_PER_SITE, improve

#: Open sites per window at first: sub-MIPs of a few hundred candidates, ~0.1 s each.
WINDOW_SITES = 8

#: Areas per window: sites may move between them, which one area's MIP cannot do.
WINDOW_AREAS = 2

#: Most seconds one window's MIP may take; a window it cannot settle is not worth more.
WINDOW_SECONDS = 1.0

#: Relative gap at which a window's MIP stops (of the demand the window can still cover).
WINDOW_GAP = 1e-4


def improve_windows(
    problem: PlanningProblem,
    open_sites: np.ndarray,
    deadline: float,
    *,
    enough: float = np.inf,
    seed: int = 0,
) -> np.ndarray:
    """Open sites after window search (uncapacitated, unconstrained coverage only).

    Stops at ``deadline`` (a ``time.perf_counter`` value), once the covered demand reaches
    ``enough`` (the value the caller's bound makes good enough), or when a window holding
    every site brings nothing.
    """
    a = problem.incidence
    rows = a.tocsr()
    rng = np.random.default_rng(seed)
    best = open_sites.copy()
    value = _covered(problem, rows, best)
    tolerance = 1e-9 * max(problem.demand.sum(), 1.0)
    size = WINDOW_SITES
    unvisited = best & ~problem.existing
    while value < enough and time.perf_counter() < deadline:
        if not unvisited.any():
            if size >= problem.p:
                break
            size = min(size + size // 2, problem.p)
            unvisited = best & ~problem.existing
        window = np.zeros(problem.n_candidates, dtype=bool)
        free = window.copy()
        for _ in range(WINDOW_AREAS):
            pool = np.flatnonzero(unvisited & ~free)
            if not len(pool):
                break
            one, near = _window(a, best & ~problem.existing, int(rng.choice(pool)), size, rng)
            window |= one
            free |= near
        unvisited &= ~window
        found = _resolve(problem, rows, best, window, free, deadline)
        if _covered(problem, rows, found) <= value + tolerance:
            continue
        picks = improve(
            problem,
            np.flatnonzero(found & ~problem.existing),
            max_rounds=SWAP_ROUNDS_PER_SITE * problem.p,
        )
        best = problem.existing.copy()
        best[picks] = True
        value = _covered(problem, rows, best)
        unvisited = best & ~problem.existing
    return best


def _window(
    a: sparse.csc_matrix, sites: np.ndarray, start: int, size: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """``size`` new sites around ``start`` (nearest hops first) and the candidates they share
    demand with. A site with no open neighbour within reach is a window of its own."""
    window = np.zeros(len(sites), dtype=bool)
    window[start] = True
    region = window.copy()
    while window.sum() < size:
        grown = _neighbours(a, region)
        if not np.any(grown & ~region):
            break
        region = grown
        ring = np.flatnonzero(region & sites & ~window)
        window[rng.permutation(ring)[: size - int(window.sum())]] = True
    return window, _neighbours(a, window) | window


def _neighbours(a: sparse.csc_matrix, mask: np.ndarray) -> np.ndarray:
    """Candidates sharing demand with those of ``mask`` (``mask`` included)."""
    return (a.T @ ((a @ mask.astype(float)) > 0).astype(float)) > 0


def _resolve(
    problem: PlanningProblem,
    rows: sparse.csr_matrix,
    open_sites: np.ndarray,
    window: np.ndarray,
    free: np.ndarray,
    deadline: float,
) -> np.ndarray:
    """Best placement of the window's sites among its candidates (HiGHS), all else fixed."""
    fixed = open_sites & ~window
    covered = rows @ fixed.astype(float) > 0
    keep = np.flatnonzero(free & ~fixed)
    sub = problem.restrict(keep, demand=np.where(covered, 0.0, problem.demand), p=int(window.sum()))
    model = Model(sub)
    model.highs.setOptionValue("presolve", "off")
    limit = min(WINDOW_SECONDS, max(deadline - time.perf_counter(), 0.1))
    result = model.solve(model.start(window[keep]), limit, WINDOW_GAP)
    found = fixed.copy()
    found[keep[result.open]] = True
    return found


def _covered(problem: PlanningProblem, rows: sparse.csr_matrix, open_sites: np.ndarray) -> float:
    return float(problem.demand[rows @ open_sites.astype(float) > 0].sum())
