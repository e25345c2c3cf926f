"""A plan queued on Redis: solver progress shown, before/after maps and site files left."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from rq import Queue, SimpleWorker

from maillage.jobs.plan import PLAN, enqueue_plan
from maillage.jobs.progress import read_progress
from maillage.jobs.results import JobResult

MEUSE_PLAN = {"diagnosis": {"department": "55"}, "sites": 3, "time_limit": 20}


def test_a_finished_plan_leaves_sites_and_two_maps(queue: Queue, tmp_path: Path) -> None:
    job = enqueue_plan(queue, MEUSE_PLAN, tmp_path, owner="planner@example.org")
    SimpleWorker([queue], connection=queue.connection).work(burst=True)

    progress = read_progress(job, PLAN.total_steps)
    assert progress.finished, progress.error
    assert progress.done == progress.total == PLAN.total_steps
    assert job.get_meta(refresh=True)["done"] == PLAN.total_steps, "the step count is stale"
    result = JobResult.find(PLAN, tmp_path, job.id)
    assert result is not None
    before, after = result.maps
    assert (before.title, after.title) == ("Avant : diagnostic", "Après : simulation")
    assert before.svg.count('class="site"') == after.svg.count('class="site"') == 3
    with result.download("csv").open(encoding="utf-8") as handle:
        sites = list(csv.DictReader(handle))
    assert [s["rank"] for s in sites] == ["1", "2", "3"]
    assert all(s["code_commune"].startswith("55") for s in sites)
    assert result.summary["sites"] == 3 and result.summary["area"] == "Meuse (55)"
    assert result.download("impact").is_file() and result.download("geojson").is_file()


@pytest.mark.parametrize(
    ("change", "message"),
    [({"sites": 0}, "sites"), ({"objective": "magic"}, "objective")],
)
def test_bad_plans_are_refused_before_queuing(
    queue: Queue, tmp_path: Path, change: dict, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        enqueue_plan(queue, MEUSE_PLAN | change, tmp_path, owner="x@example.org")
    assert queue.count == 0
