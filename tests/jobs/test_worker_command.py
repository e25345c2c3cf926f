"""`maillage worker`: runs what the pages queued, and says so when Redis is away."""

from __future__ import annotations

from pathlib import Path

import typer
from rq import Queue
from rq.job import JobStatus
from typer.testing import CliRunner

from maillage.jobs import commands
from maillage.jobs.diagnosis import DIAGNOSIS, enqueue_diagnosis
from maillage.jobs.progress import read_progress
from maillage.jobs.queue import JobSettings


def cli() -> typer.Typer:
    app = typer.Typer()
    app.callback()(lambda: None)
    commands.register(app)
    return app


def test_worker_burst_runs_the_queued_jobs(
    queue: Queue, job_settings: JobSettings, tmp_path: Path
) -> None:
    job = enqueue_diagnosis(queue, {"department": "00"}, tmp_path, owner="x@example.org")
    env = {"MAILLAGE_REDIS_URL": job_settings.redis_url, "MAILLAGE_JOBS_QUEUE": queue.name}
    result = CliRunner().invoke(cli(), ["worker", "--burst"], env=env)
    assert result.exit_code == 0, result.output
    assert queue.name in result.output
    assert read_progress(job, DIAGNOSIS.total_steps).status == JobStatus.FAILED
    assert queue.count == 0


def test_worker_without_redis_exits_with_a_message() -> None:
    env = {"MAILLAGE_REDIS_URL": "redis://127.0.0.1:1/0"}
    result = CliRunner().invoke(cli(), ["worker", "--burst"], env=env)
    assert result.exit_code == 1
    assert "Redis unreachable" in result.output
