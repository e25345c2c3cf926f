"""Lazy greedy (CELF): open the site with the largest marginal gain, p times.

Gains only shrink as sites open (submodularity), so a stale gain is an upper bound: a
candidate whose recomputed gain still tops the heap is the best one, without recomputing
the others (Leskovec et al., "Cost-effective outbreak detection in networks", KDD 2007).
Existing sites are opened first and never count in ``p``. Quotas and budget: a candidate
whose group is full is dropped; one that would leave no affordable completion meeting the
minimum quotas is set aside until the next pick (see :mod:`.quotas`), so the greedy always
ends with a feasible set.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterator

import numpy as np

from .gains import Gains, gains_for
from .problem import PlanningProblem
from .progress import Progress


def opened_state(problem: PlanningProblem) -> Gains:
    """The gain state once the existing sites are open."""
    state = gains_for(problem)
    for site in np.flatnonzero(problem.existing):
        state.add(int(site))
    return state


def greedy(problem: PlanningProblem, on_progress: Progress | None = None) -> np.ndarray:
    """Indices of the ``p`` new sites, in the order the greedy opened them."""
    state = opened_state(problem)
    completion = problem.completion
    selected = np.zeros(problem.n_candidates, dtype=bool)
    counts = np.zeros(len(completion.names), dtype=int)
    budget_left = np.inf if problem.budget is None else problem.budget
    picks: list[int] = []

    def accept(candidate: int) -> bool | None:
        """True to pick, None to drop for good (group full), False to retry after a pick."""
        g = completion.group[candidate]
        if counts[g] >= completion.upper[g]:
            return None
        remaining = problem.p - len(picks) - 1
        return completion.allows(selected, candidate, remaining, budget_left)

    candidates = np.flatnonzero(~problem.existing)
    for candidate, _gain in lazy_order(state, candidates, problem.p, accept):
        picks.append(candidate)
        selected[candidate] = True
        counts[completion.group[candidate]] += 1
        budget_left -= completion.cost[candidate]
        if on_progress is not None:
            on_progress("greedy", len(picks) / problem.p)
    return np.array(picks, dtype=np.int64)


def lazy_order(
    state: Gains,
    candidates: np.ndarray,
    count: int,
    accept: Callable[[int], bool | None] | None = None,
) -> Iterator[tuple[int, float]]:
    """Yield ``count`` (candidate, gain) pairs, each the best remaining by marginal gain."""
    gains = state.all()[candidates]
    heap = [(-g, int(c), 0) for g, c in zip(gains, candidates, strict=True)]
    heapq.heapify(heap)
    deferred: list[tuple[float, int, int]] = []
    rnd = 0
    taken = 0
    while taken < count:
        if not heap:
            raise RuntimeError("greedy ran out of candidates although the problem is feasible")
        neg, candidate, when = heapq.heappop(heap)
        if when != rnd:
            heapq.heappush(heap, (-state.gain(candidate), candidate, rnd))
            continue
        verdict = True if accept is None else accept(candidate)
        if verdict is None:
            continue
        if not verdict:
            deferred.append((neg, candidate, when))
            continue
        state.add(candidate)
        taken += 1
        rnd += 1
        for item in deferred:
            heapq.heappush(heap, item)
        deferred.clear()
        yield candidate, -neg
