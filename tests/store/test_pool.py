"""Pooled PostgreSQL connections: a connection that died while idle is replaced, not used."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from maillage.config import sqlalchemy_url
from maillage.store import database
from maillage.store.database import make_engine


@pytest.mark.postgres
def test_a_connection_killed_while_idle_is_replaced(
    postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = make_engine(sqlalchemy_url(postgres_url))
    try:
        with engine.connect() as connection:
            first = connection.execute(text("SELECT pg_backend_pid()")).scalar_one()
        killer = make_engine(sqlalchemy_url(postgres_url))
        with killer.connect() as connection:
            connection.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": first})
        killer.dispose()
        # Busy: no ping, so the dead connection is handed out and fails...
        with pytest.raises(OperationalError), engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        with engine.connect() as connection:  # ...and the pool replaced it meanwhile.
            assert connection.execute(text("SELECT 1")).scalar_one() == 1
        with engine.connect() as connection:
            second = connection.execute(text("SELECT pg_backend_pid()")).scalar_one()
        with make_engine(sqlalchemy_url(postgres_url)).connect() as connection:
            connection.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": second})
        # Idle long enough (here: at once): pinged on checkout, replaced before use.
        monkeypatch.setattr(database, "IDLE_PING_SECONDS", 0.0)
        with engine.connect() as connection:
            assert connection.execute(text("SELECT pg_backend_pid()")).scalar_one() != second
    finally:
        engine.dispose()
