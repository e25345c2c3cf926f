"""Fixtures of the web tests: the site without a queue, and a private Redis queue."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import NoReturn

import pytest
from redis import Redis
from redis.exceptions import RedisError
from rq.job import Job
from web_site import Site, make_site

from maillage.jobs.queue import JobSettings, job_queue


@pytest.fixture
def job_settings(missing_service: Callable[[str], NoReturn]) -> Iterator[JobSettings]:
    """Settings naming a fresh queue; skips (fails under CI=true) without Redis."""
    settings = JobSettings(jobs_queue=f"maillage-test-{uuid.uuid4().hex[:12]}")
    try:
        Redis.from_url(settings.redis_url).ping()
    except RedisError as error:
        missing_service(f"Redis unreachable at {settings.redis_url}: {error}")
    yield settings
    queue = job_queue(settings)
    registries = (queue.finished_job_registry, queue.failed_job_registry)
    ids = set(queue.job_ids).union(*(r.get_job_ids() for r in registries))
    for job in Job.fetch_many(list(ids), connection=queue.connection):
        if job is not None:
            job.delete()
    for key in queue.connection.scan_iter(f"*{queue.name}*"):
        queue.connection.delete(key)


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Site]:
    """Pages whose queue points at a closed port: for everything that needs no worker."""
    built = make_site(tmp_path, JobSettings(redis_url="redis://127.0.0.1:1/0"))
    yield built
    built.app.state.engine.dispose()
