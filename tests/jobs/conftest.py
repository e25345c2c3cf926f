"""A private queue on the local Redis per test, emptied afterwards."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from typing import NoReturn

import pytest
from redis import Redis
from redis.exceptions import RedisError
from rq import Queue
from rq.job import Job

from maillage.jobs.queue import JobSettings, job_queue


def remove_queue(queue: Queue) -> None:
    """Delete the queue's jobs (queued, finished, failed) and its own keys."""
    registries = (queue.finished_job_registry, queue.failed_job_registry)
    ids = set(queue.job_ids).union(*(r.get_job_ids() for r in registries))
    for job in Job.fetch_many(list(ids), connection=queue.connection):
        if job is not None:
            job.delete()
    for key in queue.connection.scan_iter(f"*{queue.name}*"):
        queue.connection.delete(key)


@pytest.fixture
def job_settings(missing_service: Callable[[str], NoReturn]) -> Iterator[JobSettings]:
    """Settings naming a fresh queue; skips (fails under CI=true) without Redis."""
    settings = JobSettings(jobs_queue=f"maillage-test-{uuid.uuid4().hex[:12]}")
    try:
        Redis.from_url(settings.redis_url).ping()
    except RedisError as error:
        missing_service(f"Redis unreachable at {settings.redis_url}: {error}")
    yield settings
    remove_queue(job_queue(settings))


@pytest.fixture
def queue(job_settings: JobSettings) -> Queue:
    return job_queue(job_settings)
