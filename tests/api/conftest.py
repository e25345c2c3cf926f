"""A running server per test, on SQLite and on PostgreSQL, with accounts of every role."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import suppress
from pathlib import Path

import pytest
from api_server import SECRET, Server
from fastapi.testclient import TestClient
from fhir_samples import network
from redis.exceptions import RedisError

from maillage.config import Settings
from maillage.jobs.queue import JobSettings, job_queue
from maillage.server import create_app


@pytest.fixture
def server(database_url: str, tmp_path: Path) -> Iterator[Server]:
    """A fresh server with no account (there are no default credentials)."""
    settings = Settings(
        database_url=database_url,
        secret_key=SECRET,
        login_rate_limit="1000/minute",
        files_dir=tmp_path / "files",
        expertise_due_days={"default": 7, "cardiology": 3},
    )
    app = create_app(settings)
    # Measurements queue alert evaluations: on a private queue, never the shared one.
    queue = job_queue(JobSettings(jobs_queue=f"maillage-test-{uuid.uuid4().hex[:12]}"))
    app.state.job_queue = queue
    with TestClient(app, raise_server_exceptions=True) as client:
        yield Server(app, client, settings)
    app.state.engine.dispose()
    with suppress(RedisError):
        for key in queue.connection.scan_iter(f"*{queue.name}*"):
            queue.connection.delete(key)


@pytest.fixture
def net(server: Server, coordinator: dict[str, str]) -> Server:
    """The server with the sample network (fhir_samples.network) stored."""
    for body in network():
        server.put(body, coordinator)
    return server


@pytest.fixture
def admin(server: Server) -> dict[str, str]:
    """An admin's headers."""
    return server.headers("admin")


@pytest.fixture
def coordinator(server: Server) -> dict[str, str]:
    """A coordinator's headers: the network's operator, who registers and books."""
    return server.headers("coordinator")
