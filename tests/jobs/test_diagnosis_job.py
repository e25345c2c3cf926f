"""A diagnosis queued on Redis and run by a worker: progress, files, failures."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from rq import Queue, SimpleWorker
from rq.job import Job, JobStatus

from maillage.jobs.diagnosis import DIAGNOSIS, enqueue_diagnosis
from maillage.jobs.progress import StepRecorder, read_progress
from maillage.jobs.results import JobResult

MEUSE = {"department": "55", "profession": "generaliste", "method": "apl"}
TOTAL = DIAGNOSIS.total_steps


def work(queue: Queue) -> None:
    """Run every queued job in this process (SimpleWorker: no fork, same as a worker's work)."""
    SimpleWorker([queue], connection=queue.connection).work(burst=True)


def test_a_finished_diagnosis_leaves_map_and_downloads(queue: Queue, tmp_path: Path) -> None:
    job = enqueue_diagnosis(queue, MEUSE, tmp_path, owner="planner@example.org")
    assert read_progress(job, TOTAL).status == JobStatus.QUEUED
    assert JobResult.find(DIAGNOSIS, tmp_path, job.id) is None

    work(queue)

    progress = read_progress(job, TOTAL)
    assert progress.finished and progress.over
    assert (progress.done, progress.total) == (TOTAL, TOTAL)
    assert progress.label == "Dessin de la carte"
    result = JobResult.find(DIAGNOSIS, tmp_path, job.id)
    assert result is not None
    assert JobResult.latest(DIAGNOSIS, tmp_path) == result
    assert result.summary["area"] == "Meuse (55)"
    [panel] = result.maps
    assert panel.svg.count("<path") >= 490
    assert "Sous-dotée (≤ 2,5) — consultation/an/habitant" in dict(panel.legend)
    with result.download("csv").open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == result.summary["communes"]
    assert {row["departement"] for row in rows} == {"55"}
    assert result.download("geojson").read_text().startswith('{"type":"FeatureCollection"')
    assert result.download("parquet") is None


def test_steps_are_recorded_as_they_run(queue: Queue, tmp_path: Path) -> None:
    job = enqueue_diagnosis(queue, MEUSE, tmp_path, owner="planner@example.org")
    recorder = StepRecorder(job, total=3)
    with recorder.step("Chargement des communes"):
        seen = read_progress(Job.fetch(job.id, connection=queue.connection), 3)
        assert (seen.done, seen.label) == (0, "Chargement des communes")
    recorder.note("Optimisation : glouton 50 %")
    after = read_progress(Job.fetch(job.id, connection=queue.connection), 3)
    assert (after.done, after.total, after.label) == (1, 3, "Optimisation : glouton 50 %")


def test_a_failed_diagnosis_says_why(queue: Queue, tmp_path: Path) -> None:
    job = enqueue_diagnosis(queue, {"department": "00"}, tmp_path, owner="planner@example.org")
    work(queue)
    progress = read_progress(job, TOTAL)
    assert progress.status == JobStatus.FAILED and progress.over and not progress.finished
    assert progress.error and "00" in progress.error
    assert JobResult.find(DIAGNOSIS, tmp_path, job.id) is None


def test_bad_parameters_are_refused_before_queuing(queue: Queue, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="method"):
        enqueue_diagnosis(queue, {"method": "magic"}, tmp_path, owner="x@example.org")
    assert queue.count == 0


@pytest.mark.parametrize("job_id", ["../../etc", "0" * 31, "G" * 32, ""])
def test_result_lookup_accepts_only_job_ids(tmp_path: Path, job_id: str) -> None:
    assert JobResult.find(DIAGNOSIS, tmp_path, job_id) is None
