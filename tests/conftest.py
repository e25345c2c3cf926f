"""Fixtures shared across test folders: the PostgreSQL service, a database of each back-end,
and the hypothesis profile (no per-example deadline on a shared 2-core machine; fixed
examples under CI so that a red run can be replayed)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import NoReturn

import pytest
from hypothesis import settings
from redis import Redis
from redis.exceptions import RedisError
from rq import Queue
from rq.job import Job
from sqlalchemy import create_engine, text
from sqlalchemy.exc import OperationalError

from maillage.jobs.queue import JobSettings, job_queue
from maillage.store.database import make_engine
from maillage.store.models import Base

settings.register_profile("maillage", deadline=None, derandomize=os.environ.get("CI") == "true")
settings.load_profile("maillage")

POSTGRES_SERVER = os.environ.get(
    "MAILLAGE_TEST_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)


def _missing_service(reason: str) -> NoReturn:
    """Skip a test whose service is absent, but fail under CI=true, where it must be there."""
    if os.environ.get("CI") == "true":
        pytest.fail(f"{reason} (CI=true: services are required)")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def missing_service() -> Callable[[str], NoReturn]:
    """Call it with the reason when a needed service is absent: skips, or fails under CI=true."""
    return _missing_service


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A fresh, uniquely named PostgreSQL database for this test run, dropped afterwards."""
    server = create_engine(POSTGRES_SERVER, isolation_level="AUTOCOMMIT")
    name = f"maillage_test_{uuid.uuid4().hex[:12]}"
    try:
        with server.connect() as connection:
            connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
    except OperationalError as error:
        server.dispose()
        _missing_service(f"PostgreSQL unreachable at {POSTGRES_SERVER}: {error.orig}")
    try:
        yield server.url.set(database=name).render_as_string(hide_password=False)
    finally:
        with server.connect() as connection:
            connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        server.dispose()


TABLES = ", ".join(table.name for table in Base.metadata.sorted_tables)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty database of each back-end (PostgreSQL's is emptied between tests)."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'maillage.sqlite'}"
    url: str = request.getfixturevalue("postgres_url")
    engine = make_engine(url)
    with engine.begin() as connection:
        exists = connection.execute(text("SELECT to_regclass('fhir_resource')")).scalar()
        if exists:
            connection.execute(text(f"TRUNCATE {TABLES} RESTART IDENTITY CASCADE"))
    engine.dispose()
    return url


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
    """Settings naming a fresh queue on the local Redis, emptied afterwards; skips (fails under
    CI=true) without Redis."""
    private = JobSettings(jobs_queue=f"maillage-test-{uuid.uuid4().hex[:12]}")
    try:
        Redis.from_url(private.redis_url).ping()
    except RedisError as error:
        missing_service(f"Redis unreachable at {private.redis_url}: {error}")
    yield private
    remove_queue(job_queue(private))
