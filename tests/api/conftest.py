"""A running server per test, on SQLite and on PostgreSQL, with accounts of every role."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from api_server import SECRET, Server
from fastapi.testclient import TestClient

from maillage.api.app import create_app
from maillage.config import Settings


@pytest.fixture
def server(database_url: str) -> Iterator[Server]:
    """A fresh server with no account (there are no default credentials)."""
    settings = Settings(
        database_url=database_url, secret_key=SECRET, login_rate_limit="1000/minute"
    )
    app = create_app(settings)
    with TestClient(app, raise_server_exceptions=True) as client:
        yield Server(app, client, settings)
    app.state.engine.dispose()


@pytest.fixture
def admin(server: Server) -> dict[str, str]:
    """An admin's headers."""
    return server.headers("admin")


@pytest.fixture
def coordinator(server: Server) -> dict[str, str]:
    """A coordinator's headers: the network's operator, who registers and books."""
    return server.headers("coordinator")
