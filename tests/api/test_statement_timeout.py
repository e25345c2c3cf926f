"""Every statement of the server runs under ``MAILLAGE_STATEMENT_TIMEOUT_SECONDS`` on
PostgreSQL: a request its client gave up on holds no backend and no lock for longer."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
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
