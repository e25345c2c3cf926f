"""The shipped migrations build exactly the schema the models describe, on both back-ends."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy.exc import IntegrityError

from maillage.config import sqlalchemy_url
from maillage.store.database import make_engine, upgrade
from maillage.store.models import Base, on_backend


def test_migrations_match_the_models_and_are_idempotent(database_url: str) -> None:
    engine = make_engine(sqlalchemy_url(database_url))
    upgrade(engine)
    upgrade(engine)
    with engine.connect() as connection:
        backend = on_backend(connection.dialect.name)
        opts = {"compare_type": True, "include_object": backend}
        context = MigrationContext.configure(connection, opts=opts)
        assert context.get_current_revision() is not None
        assert compare_metadata(context, Base.metadata) == []
    engine.dispose()


@pytest.mark.postgres
def test_postgresql_refuses_overlapping_periods_itself(postgres_url: str) -> None:
    engine = make_engine(sqlalchemy_url(postgres_url))
    upgrade(engine)
    row = "INSERT INTO booked_period (appointment_id, actor, starts, ends) VALUES "
    with engine.begin() as connection:
        connection.exec_driver_sql("DELETE FROM booked_period")
        connection.exec_driver_sql(
            row + "('a', 'Practitioner/d', '2026-05-04 09:00', '2026-05-04 09:20')"
        )
        connection.exec_driver_sql(
            row + "('b', 'Practitioner/d', '2026-05-04 09:20', '2026-05-04 09:40')"
        )
        connection.exec_driver_sql(
            row + "('c', 'Patient/p', '2026-05-04 09:10', '2026-05-04 09:30')"
        )
    with (
        pytest.raises(IntegrityError, match="booked_period_no_overlap"),
        engine.begin() as connection,
    ):
        connection.exec_driver_sql(
            row + "('d', 'Practitioner/d', '2026-05-04 09:10', '2026-05-04 09:15')"
        )
    engine.dispose()
