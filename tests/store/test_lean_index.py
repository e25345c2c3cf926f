"""The lean search index (issue 23, migration 0013): an update rewrites only the index rows that
changed, no index row outlives its resource (no foreign key cascades any more: the store removes
them), and searches still read the partial value and date indexes; a slot's status held by the
slot calendar alone (migration 0016)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from alembic import command
from sqlalchemy import Engine, insert, inspect, literal_column, select, text
from sqlalchemy.orm import Session, sessionmaker

from maillage.config import sqlalchemy_url
from maillage.store import resources, search
from maillage.store.database import (
    alembic_config,
    make_engine,
    transaction,
    upgrade,
)
from maillage.store.models import RESOURCES, SEARCH_INDEX, Resource, SearchEntry
from maillage.store.search_params import extract

ZONE = ZoneInfo("Europe/Paris")
SLOT = {
    "resourceType": "Slot",
    "identifier": [{"system": "urn:agenda", "value": "creneau-1"}],
    "schedule": {"reference": "Schedule/dr-martin"},
    "serviceType": [{"coding": [{"system": "urn:acte", "code": "teleconsultation"}]}],
    "status": "free",
    "start": "2027-03-29T09:00:00+02:00",
    "end": "2027-03-29T09:20:00+02:00",
}
SEARCHES = [
    [("schedule", "Schedule/dr-martin")],
    [("identifier", "urn:agenda|creneau-1")],
    [("service-type", "urn:acte|")],
    [("start", "ge2027-03-29")],
    [("start", "lt2027-03-30"), ("schedule", "Schedule/dr-martin")],
    [("status", "free")],
    [("status", "busy")],
    [("status:not", "busy")],
]
#: Index rows whose resource is unknown or deleted: none may ever be left.
ORPHANS = (
    "SELECT count(*) FROM fhir_search s WHERE NOT EXISTS (SELECT 1 FROM fhir_resource r WHERE"
    " r.resource_type = s.resource_type AND r.id = s.resource_id AND r.deleted = :no)"
)


def _found(session: Session) -> list[list[str]]:
    """The ids each of :data:`SEARCHES` finds."""
    found = []
    for query in SEARCHES:
        criteria, ids = search.parse("Slot", query)
        statement = search.statement("Slot", criteria, ids, ZONE).order_by(Resource.id)
        found.append([row.id for row in session.scalars(statement)])
    return found


def _rows(session: Session, resource_id: str) -> dict[tuple, Any]:
    """A slot's index rows by their values, each with its physical version on PostgreSQL
    (``xmin``: the transaction that wrote it) or None on SQLite."""
    marker = "xmin::text" if session.connection().dialect.name == "postgresql" else "NULL"
    columns = [SEARCH_INDEX.c[name] for name in resources.INDEX_VALUES]
    query = select(*columns, literal_column(marker)).where(
        SEARCH_INDEX.c.resource_type == "Slot", SEARCH_INDEX.c.resource_id == resource_id
    )
    return {tuple(row[:-1]): row[-1] for row in session.execute(query)}


def _written(session: Session) -> tuple[int, int]:
    """Index rows inserted and deleted so far by this session's transaction, as counted by
    PostgreSQL (its counters may still hold earlier transactions' rows: compare two readings)
    or, on SQLite, by the temporary triggers of :func:`_counting`."""
    if session.connection().dialect.name == "postgresql":
        query = (
            "SELECT n_tup_ins, n_tup_del FROM pg_stat_xact_user_tables"
            " WHERE relname = 'fhir_search'"
        )
    else:
        query = (
            "SELECT count(*) FILTER (WHERE kind = 'INSERT'),"
            " count(*) FILTER (WHERE kind = 'DELETE') FROM index_writes"
        )
    inserted, deleted = session.execute(text(query)).one()
    return int(inserted), int(deleted)


@contextmanager
def _counting(session: Session) -> Iterator[Callable[[], tuple[int, int]]]:
    """Count the index rows the block inserts and deletes; yields the function that says how
    many so far."""
    sqlite = session.connection().dialect.name == "sqlite"
    if sqlite:
        session.execute(text("CREATE TEMP TABLE index_writes (kind TEXT)"))
        for kind in ("INSERT", "DELETE"):
            session.execute(
                text(
                    f"CREATE TEMP TRIGGER index_{kind.lower()} AFTER {kind} ON fhir_search"
                    f" BEGIN INSERT INTO index_writes VALUES ('{kind}'); END"
                )
            )
    start = _written(session)
    yield lambda: tuple(now - then for now, then in zip(_written(session), start, strict=True))
    if sqlite:
        for name in ("TRIGGER index_insert", "TRIGGER index_delete", "TABLE index_writes"):
            session.execute(text(f"DROP {name}"))


def test_an_update_rewrites_only_the_index_rows_that_changed(
    sessions: sessionmaker[Session],
) -> None:
    with transaction(sessions) as session:
        resources.save(session, SLOT, ZONE, resource_id="s1")
        resources.save(session, {**SLOT, "identifier": []}, ZONE, resource_id="s2")
    with transaction(sessions) as session:
        created, found = _rows(session, "s1"), _found(session)
    assert len(created) == 4  # identifier, schedule, service-type, start (status: calendar)
    both = ["s1", "s2"]
    assert found == [both, ["s1"], both, both, both, both, [], both]

    # a field no parameter reads: no row written
    with transaction(sessions) as session, _counting(session) as written:
        resources.save(session, {**SLOT, "comment": "cabine 2"}, ZONE, resource_id="s1")
        assert written() == (0, 0)
    with transaction(sessions) as session:
        assert _rows(session, "s1") == created and _found(session) == found

    # booked: no index row written (the calendar alone holds the status), found as booked
    with transaction(sessions) as session, _counting(session) as written:
        resources.save(session, {**SLOT, "status": "busy"}, ZONE, resource_id="s1")
        assert written() == (0, 0)
    with transaction(sessions) as session:
        assert _rows(session, "s1") == created and _found(session) == [
            *found[:5],
            ["s2"],
            ["s1"],
            ["s2"],
        ]

    # another service: its row alone is replaced, the others are the very same tuples
    other = {**SLOT, "status": "busy", "serviceType": [{"coding": [{"code": "expertise"}]}]}
    with transaction(sessions) as session, _counting(session) as written:
        resources.save(session, other, ZONE, resource_id="s1")
        assert written() == (1, 1)
    with transaction(sessions) as session:
        changed = _rows(session, "s1")
    service = ("service-type", "urn:acte", "teleconsultation", None, None)
    assert {k: v for k, v in changed.items() if k[0] != "service-type"} == {
        k: v for k, v in created.items() if k != service
    }
    assert ("service-type", None, "expertise", None, None) in changed and service not in changed
    with transaction(sessions) as session:
        for name in ("s1", "s2"):
            body = resources.read(session, "Slot", name).body
            assert set(_rows(session, name)) == {
                tuple(row[column] for column in resources.INDEX_VALUES)
                for row in resources.index_rows("Slot", name, extract("Slot", name, body, ZONE))
            }


def _orphans(engine: Engine) -> int:
    with engine.connect() as connection:
        return int(connection.execute(text(ORPHANS), {"no": False}).scalar_one())


def test_no_index_row_outlives_its_resource(sessions: sessionmaker[Session]) -> None:
    with transaction(sessions) as session:
        resources.save(session, SLOT, ZONE, resource_id="s1")
        resources.save(session, {**SLOT, "status": "busy"}, ZONE, resource_id="s1")
        resources.save(session, SLOT, ZONE, resource_id="s2")
        resources.delete(session, "Slot", "s2")
        engine = session.get_bind()
    assert isinstance(engine, Engine)
    with transaction(sessions) as session:
        assert _rows(session, "s2") == {} and len(_rows(session, "s1")) == 4
        assert _found(session)[5:] == [[], ["s1"], []]
    assert _orphans(engine) == 0
    assert resources.reindex(sessions, ZONE) == 1
    assert _orphans(engine) == 0


def test_reindex_writes_only_what_differs(sessions: sessionmaker[Session]) -> None:
    """A rebuild after a release fixes the rows that differ (a lost row, a stale one) and
    leaves the others in place: a rebuild with nothing to fix writes nothing."""
    with transaction(sessions) as session:
        resources.save(session, SLOT, ZONE, resource_id="s1")
        session.execute(
            SEARCH_INDEX.delete().where(
                SEARCH_INDEX.c.resource_id == "s1", SEARCH_INDEX.c.param == "schedule"
            )
        )
        stale = {"resource_type": "Slot", "resource_id": "s1", "param": "status", "value": "x"}
        session.execute(insert(SEARCH_INDEX), stale)
    assert resources.reindex(sessions, ZONE) == 1
    with transaction(sessions) as session:
        rows = _rows(session, "s1")
    assert ("schedule", None, "Schedule/dr-martin", None, None) in rows
    assert ("status", None, "x", None, None) not in rows and len(rows) == 4


def _plan(session: Session, query: list[tuple[str, str]]) -> str:
    """The plan of a Slot search's statement, as the back-end would run it."""
    criteria, ids = search.parse("Slot", query)
    statement = search.statement("Slot", criteria, ids, ZONE).with_only_columns(Resource.id)
    compiled = statement.compile(session.get_bind(), compile_kwargs={"literal_binds": True})
    if session.connection().dialect.name == "postgresql":
        return "\n".join(session.execute(text(f"EXPLAIN {compiled}")).scalars())
    return "\n".join(row[-1] for row in session.execute(text(f"EXPLAIN QUERY PLAN {compiled}")))


@pytest.mark.parametrize(
    ("query", "index"),
    [
        ([("service-type", "urn:acte|teleconsultation")], "ix_fhir_search_value"),
        ([("identifier", "urn:agenda|")], "ix_fhir_search_value"),
        ([("schedule", "Schedule/dr-1,Schedule/dr-2")], "ix_fhir_search_value"),
        ([("start", "ge2027-03-29")], "ix_fhir_search_date"),
        ([("start", "gt2027-03-29")], "ix_fhir_search_date"),
        ([("start", "lt2027-03-29")], "ix_fhir_search_date"),
        ([("start", "ne2027-03-29")], "ix_fhir_search_date"),
    ],
)
def test_searches_read_the_partial_indexes(
    sessions: sessionmaker[Session], query: list[tuple[str, str]], index: str
) -> None:
    """Each search reads the partial index holding its rows, also when its test alone (a
    system without code, ``high > x``) does not say the row has a value or a date (as
    migration 0010's test does for the calendar: statistics made, no planner setting forced)."""
    now = datetime(2026, 12, 1)
    resource_rows, index_rows = [], []
    for n in range(3000):
        body = {**SLOT, "schedule": {"reference": f"Schedule/dr-{n % 50}"}}
        body["start"] = f"2027-{1 + n % 12:02d}-{1 + n % 28:02d}T09:00:00+01:00"
        key = {"resource_type": "Slot", "id": f"s{n}", "version_id": 1, "last_updated": now}
        resource_rows.append({**key, "deleted": False, "body": body})
        index_rows += resources.index_rows("Slot", f"s{n}", extract("Slot", f"s{n}", body, ZONE))
    with transaction(sessions) as session:
        session.execute(insert(RESOURCES), resource_rows)
        session.execute(insert(SearchEntry), index_rows)
    with transaction(sessions) as session:
        session.execute(text("ANALYZE"))
    with transaction(sessions) as session:
        assert index in _plan(session, query)


def _index_table(engine: Engine) -> tuple[list[tuple], list[str], int]:
    """The index rows (sorted), the table's columns and its foreign keys."""
    columns = [SEARCH_INDEX.c[name] for name in ("resource_type", "resource_id")]
    columns += [SEARCH_INDEX.c[name] for name in resources.INDEX_VALUES]
    with engine.connect() as connection:
        rows = sorted(map(tuple, connection.execute(select(*columns))), key=str)
    table = inspect(engine)
    names = [column["name"] for column in table.get_columns("fhir_search")]
    return rows, names, len(table.get_foreign_keys("fhir_search"))


def test_the_migration_keeps_every_index_row_both_ways(database_url: str) -> None:
    """0013 drops the key and the foreign key, keeping the rows; going back restores both."""
    engine = make_engine(sqlalchemy_url(database_url))
    upgrade(engine)
    _downgrade(engine, "0012_audit_outbox")
    now = datetime(2026, 12, 1)
    values = extract("Slot", "s", SLOT, ZONE)
    with engine.begin() as connection:
        for n in range(3):
            key = {"resource_type": "Slot", "id": f"s{n}", "version_id": 1, "last_updated": now}
            connection.execute(insert(RESOURCES), {**key, "deleted": False, "body": SLOT})
            rows = resources.index_rows("Slot", f"s{n}", values)
            connection.execute(insert(SEARCH_INDEX), rows)
    before, columns, keys = _index_table(engine)
    assert len(before) == 12 and "pk" in columns and keys == 1
    upgrade(engine)
    after, columns, keys = _index_table(engine)
    assert after == before and "pk" not in columns and keys == 0
    _downgrade(engine, "0012_audit_outbox")
    back, columns, keys = _index_table(engine)
    assert back == before and "pk" in columns and keys == 1
    upgrade(engine)
    engine.dispose()


def _downgrade(engine: Engine, revision: str) -> None:
    config = alembic_config(engine)
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, revision)


# Migration 0016 (issue 23): a slot's status held by the slot calendar alone and searched
# there, ``maillage_book`` quieting the calendar's trigger, and the booked periods' exclusion
# constraint on the actor's hash; each way back restores what was there.


def _status_rows(engine: Engine) -> set[tuple[str, str]]:
    query = select(SEARCH_INDEX.c.resource_id, SEARCH_INDEX.c.value).where(
        SEARCH_INDEX.c.resource_type == "Slot", SEARCH_INDEX.c.param == "status"
    )
    with engine.connect() as connection:
        return {(row[0], row[1]) for row in connection.execute(query)}


def _found_by_status(session: Session, value: str) -> list[str]:
    criteria, ids = search.parse("Slot", [("status", value)])
    statement = search.statement("Slot", criteria, ids, ZONE).order_by(Resource.id)
    return [row.id for row in session.scalars(statement)]


def _postgresql_parts(engine: Engine) -> tuple[str, str, str]:
    """``maillage_book``'s body, the slot calendar trigger's and the exclusion constraint's
    definitions."""
    with engine.connect() as connection:
        function, trigger, constraint = connection.execute(
            text(
                "SELECT pg_get_functiondef('maillage_book'::regproc),"
                " (SELECT pg_get_triggerdef(oid) FROM pg_trigger"
                "  WHERE tgname = 'slot_calendar_notify'),"
                " (SELECT pg_get_constraintdef(oid) FROM pg_constraint"
                "  WHERE conname = 'booked_period_no_overlap')"
            )
        ).one()
    return function, trigger, constraint


def test_a_slots_status_is_searched_in_the_calendar_and_comes_back_on_downgrade(
    sessions: sessionmaker[Session],
) -> None:
    with transaction(sessions) as session:
        for name in ("s1", "s2"):
            resources.save(session, SLOT, ZONE, resource_id=name)
        resources.save(session, {**SLOT, "status": "busy"}, ZONE, resource_id="s2")
        engine = session.get_bind()
    assert isinstance(engine, Engine)
    assert _status_rows(engine) == set()
    with transaction(sessions) as session:
        assert _found_by_status(session, "free") == ["s1"] and _found_by_status(
            session, "busy"
        ) == ["s2"]
        assert _found_by_status(session, "|busy") == ["s2"]
        assert _found_by_status(session, "urn:x|busy") == []
    postgresql = engine.dialect.name == "postgresql"
    if postgresql:
        function, trigger, constraint = _postgresql_parts(engine)
        assert "set_config('maillage.slot_calendar_notify', 'by caller', true)" in function
        assert "UPDATE fhir_search" not in function
        assert "WHEN" in trigger and "hashtextextended" in constraint
    _downgrade(engine, "0015_leaner_bookings")
    assert _status_rows(engine) == {("s1", "free"), ("s2", "busy")}
    if postgresql:
        function, trigger, constraint = _postgresql_parts(engine)
        assert "set_config" not in function and "UPDATE fhir_search" in function
        assert "WHEN" not in trigger and "hashtextextended" not in constraint
    upgrade(engine)
    assert _status_rows(engine) == set()
