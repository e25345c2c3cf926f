"""Planner statistics after bulk writes.

A bulk writer (the demo seed, ``sites import``, ``db reindex``) fills the resource tables in
minutes; PostgreSQL's autovacuum refreshes their statistics only later, and until then the
planner believes the tables nearly empty and picks nested loops that turned 0.2 s pages into
two-minute ones (issue 17). Running ``ANALYZE`` on what was loaded closes that window. SQLite
has ``ANALYZE`` too (it fills ``sqlite_stat1`` for its planner), so the call is the same there.
A restore loads every table, and ``pg_restore`` brings no statistics with the data: it
analyses the whole database.
"""

from __future__ import annotations

from sqlalchemy import Engine, Table, text
from sqlalchemy.orm import Session, sessionmaker

from maillage.store.models import (
    BOOKED_PERIODS,
    RESOURCES,
    SEARCH_INDEX,
    SLOT_CALENDAR,
    VERSIONS,
)

LOADED_BY_RESOURCE_WRITES: tuple[Table, ...] = (
    RESOURCES,
    VERSIONS,
    SEARCH_INDEX,
    SLOT_CALENDAR,
    BOOKED_PERIODS,
)
"""Every table a resource write fills (body, history, search index, calendars)."""


def analyze(
    sessions: sessionmaker[Session], tables: tuple[Table, ...] = LOADED_BY_RESOURCE_WRITES
) -> None:
    """Refresh the planner's statistics of ``tables`` (names from the schema, never input)."""
    with sessions.begin() as session:
        quote = session.get_bind().dialect.identifier_preparer.quote
        for table in tables:
            session.execute(text(f"ANALYZE {quote(table.name)}"))


def analyze_database(engine: Engine) -> None:
    """Refresh the planner's statistics of every table (after a restore, which loads them all)."""
    with engine.begin() as connection:
        connection.execute(text("ANALYZE"))
