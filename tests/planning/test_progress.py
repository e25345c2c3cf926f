"""Solver progress moves during every step, and every stage has a name people can read."""

from __future__ import annotations

import time

import numpy as np
import pytest
from planning_instances import CUTOFF, geometric

from maillage.planning import progress
from maillage.planning.problem import PlanningProblem
from maillage.planning.progress import STAGE_LABELS, heartbeat
from maillage.planning.solve import solve


def test_heartbeat_reports_while_the_block_runs() -> None:
    calls: list[tuple[str, float | None]] = []
    with heartbeat(lambda stage, fraction: calls.append((stage, fraction)), "lp", 10.0):
        time.sleep(4.5 * progress.INTERVAL)
    assert len(calls) >= 3 and {stage for stage, _ in calls} == {"lp"}
    fractions = [f for _, f in calls]
    assert fractions == sorted(fractions) and fractions[-1] > fractions[0]
    count = len(calls)
    time.sleep(2 * progress.INTERVAL)
    assert len(calls) == count  # the heartbeat stops with its block


def test_unbounded_steps_report_no_fraction() -> None:
    calls: list[float | None] = []
    with heartbeat(lambda stage, fraction: calls.append(fraction), "mip", np.inf):
        time.sleep(1.5 * progress.INTERVAL)
    assert calls and set(calls) == {None}


@pytest.mark.parametrize("objective", ["coverage", "pmedian", "lscp", "pcenter"])
def test_every_stage_is_named_and_highs_steps_keep_reporting(objective, monkeypatch) -> None:
    monkeypatch.setattr(progress, "INTERVAL", 0.001)
    demand, pairs = geometric(1200, 5, side_km=90.0)
    p = {"lscp": 1200, "pcenter": 100}.get(objective, 60)  # lscp: p caps; pcenter: ≥ LSCP
    problem = PlanningProblem(demand, pairs, p, CUTOFF, objective=objective)
    calls: list[tuple[str, float | None]] = []
    solve(problem, time_limit=30.0, on_progress=lambda s, f: calls.append((s, f)))
    stages = [stage for stage, _ in calls]
    assert set(stages) <= set(STAGE_LABELS)
    assert stages[-1] == "done"
    # The step HiGHS spends longest in reports more than once: the display moves.
    busiest = {"coverage": "lp", "pmedian": "lagrangian", "lscp": "cover", "pcenter": "radius"}
    assert stages.count(busiest[objective]) >= 2
