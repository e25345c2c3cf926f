"""Every statement of the server runs under ``MAILLAGE_STATEMENT_TIMEOUT_SECONDS`` on
PostgreSQL: a request its client gave up on holds no backend and no lock for longer."""

from __future__ import annotations

import time
from pathlib import Path

import psycopg
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from maillage.config import Settings
from maillage.server import create_app


@pytest.mark.postgres
def test_a_long_statement_is_cancelled(postgres_url: str, tmp_path: Path) -> None:
    settings = Settings(
        database_url=postgres_url,
        secret_key="k" * 40,
        files_dir=tmp_path,
        statement_timeout_seconds=0.3,
    )
    app = create_app(settings)
    began = time.monotonic()
    with (
        pytest.raises(OperationalError, match="statement timeout"),
        app.state.engine.connect() as connection,
    ):
        connection.execute(text("SELECT pg_sleep(5)"))
    assert time.monotonic() - began < 3
    app.state.engine.dispose()


@pytest.mark.postgres
def test_a_request_over_the_timeout_gets_503(postgres_url: str, tmp_path: Path) -> None:
    """A login waiting for another client's lock past the timeout is answered 503, not 500."""
    settings = Settings(
        database_url=postgres_url,
        secret_key="k" * 40,
        files_dir=tmp_path,
        statement_timeout_seconds=0.5,
    )
    app = create_app(settings)
    holder = psycopg.connect(postgres_url.replace("+psycopg", ""))
    try:
        holder.execute("LOCK TABLE app_user IN ACCESS EXCLUSIVE MODE")
        with TestClient(app) as client:
            form = {"username": "a@example.org", "password": "x"}
            answer = client.post("/auth/token", data=form)
    finally:
        holder.rollback()
        holder.close()
    assert answer.status_code == 503, answer.text
    assert answer.json()["issue"][0]["code"] == "timeout"
    app.state.engine.dispose()
