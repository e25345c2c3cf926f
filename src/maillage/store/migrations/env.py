"""Alembic environment: runs on the connection handed in by ``maillage.store.database.upgrade``."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection, create_engine

from maillage.store.models import Base, on_backend

config = context.config


def run() -> None:
    """Migrate online, on the given connection or on a fresh engine for the Alembic CLI."""
    connection = config.attributes.get("connection")
    if connection is not None:
        _migrate(connection)
        return
    url = config.get_main_option("sqlalchemy.url")
    if not url:
        raise RuntimeError("no database to migrate: set sqlalchemy.url in the Alembic config")
    with create_engine(url).begin() as own:
        _migrate(own)


def _migrate(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=True,
        compare_type=True,
        include_object=on_backend(connection.dialect.name),
    )
    with context.begin_transaction():
        context.run_migrations()


run()
