"""The leaner booking write set (issue 23, migration 0015): typed reference searches answered by
the untyped parameter's rows, booked periods without a surrogate key, and "who is held then"
answered by an index on each back-end."""

from __future__ import annotations

from datetime import datetime, timedelta
from functools import partial
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from alembic import command
from sqlalchemy import Engine, event, func, insert, inspect, select, text
from sqlalchemy.orm import Session, sessionmaker

from maillage.care.booking import CLASHES
from maillage.store import resources, search
from maillage.store.database import alembic_config, transaction, upgrade
from maillage.store.models import BOOKED_PERIODS, SEARCH_INDEX, Resource

ZONE = ZoneInfo("Europe/Paris")


def _appointment(*actors: str) -> dict:
    return {
        "resourceType": "Appointment",
        "status": "booked",
        "start": "2027-03-29T09:00:00+02:00",
        "end": "2027-03-29T09:20:00+02:00",
        "participant": [{"actor": {"reference": actor}, "status": "accepted"} for actor in actors],
    }


def _audit(*entities: str) -> dict:
    return {
        "resourceType": "AuditEvent",
        "type": {"system": "http://dicom.nema.org/resources/ontology/DCM", "code": "110110"},
        "recorded": "2027-03-29T09:00:00+02:00",
        "agent": [{"who": {"reference": "Practitioner/d"}, "requestor": True}],
        "source": {"observer": {"reference": "Device/maillage"}},
        "entity": [{"what": {"reference": entity}} for entity in entities],
    }


def _found(session: Session, resource_type: str, key: str, value: str) -> list[str]:
    criteria, ids = search.parse(resource_type, [(key, value)])
    statement = search.statement(resource_type, criteria, ids, ZONE).order_by(Resource.id)
    return [row.id for row in session.scalars(statement)]


def _store(sessions: sessionmaker[Session]) -> None:
    with transaction(sessions) as session:
        resources.save(
            session,
            _appointment("Patient/p", "Practitioner/d", "Location/l"),
            ZONE,
            resource_id="a1",
        )
        # a practitioner and a location sharing the patient's id, a patient sharing the doctor's
        resources.save(
            session,
            _appointment("Patient/d", "Practitioner/p", "Location/p"),
            ZONE,
            resource_id="a2",
        )
        resources.save(session, _audit("Patient/p", "Device/x"), ZONE, resource_id="e1")
        resources.save(session, _audit("Practitioner/p"), ZONE, resource_id="e2")


#: (type, search, value, ids found): what a client found when each typed parameter had its own
#: rows, worked by hand over :func:`_store`'s resources.
ANSWERS = [
    ("Appointment", "patient", "Patient/p", ["a1"]),
    ("Appointment", "patient", "p", ["a1"]),
    ("Appointment", "patient", "Patient/d", ["a2"]),
    ("Appointment", "patient", "Practitioner/p", []),
    ("Appointment", "practitioner", "p", ["a2"]),
    ("Appointment", "practitioner", "Practitioner/d", ["a1"]),
    ("Appointment", "practitioner", "Patient/p", []),
    ("Appointment", "location", "Location/l", ["a1"]),
    ("Appointment", "location", "Location/p,Location/l", ["a1", "a2"]),
    ("Appointment", "actor", "Patient/p", ["a1"]),
    ("Appointment", "actor", "Practitioner/p", ["a2"]),
    ("AuditEvent", "patient", "Patient/p", ["e1"]),
    ("AuditEvent", "patient", "p", ["e1"]),
    ("AuditEvent", "patient", "Device/x", []),
    ("AuditEvent", "entity", "Practitioner/p", ["e2"]),
]


@pytest.mark.parametrize(("resource_type", "key", "value", "ids"), ANSWERS)
def test_typed_references_find_what_their_own_rows_found(
    sessions: sessionmaker[Session], resource_type: str, key: str, value: str, ids: list[str]
) -> None:
    _store(sessions)
    with transaction(sessions) as session:
        assert _found(session, resource_type, key, value) == ids
        stored = session.scalars(select(SEARCH_INDEX.c.param).distinct()).all()
    assert "actor" in stored and not {"patient", "practitioner", "location"} & set(stored)


def _downgrade(engine: Engine, revision: str) -> None:
    config = alembic_config(engine)
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, revision)


def _checks_before_holding(engine: Engine) -> bool | None:
    """Whether ``maillage_book`` asks who is held before holding people (None: SQLite)."""
    if engine.dialect.name != "postgresql":
        return None
    with engine.connect() as connection:
        source = connection.execute(
            text("SELECT prosrc FROM pg_proc WHERE proname = 'maillage_book'")
        ).scalar_one()
    return "already booked then" in source


def test_the_migration_goes_back_to_the_rows_and_key_of_before(
    sessions: sessionmaker[Session],
) -> None:
    _store(sessions)
    with transaction(sessions) as session:
        engine = session.get_bind()
        lean = session.execute(select(func.count()).select_from(SEARCH_INDEX)).scalar_one()
    assert isinstance(engine, Engine)
    assert _checks_before_holding(engine) in (False, None)
    _downgrade(engine, "0014_booking_function")
    assert _checks_before_holding(engine) in (True, None)
    with engine.connect() as connection:
        rows = set(
            connection.execute(
                text("SELECT resource_id, param, value FROM fhir_search WHERE param <> 'actor'")
            ).all()
        )
    assert {
        ("a1", "patient", "Patient/p"),
        ("a1", "practitioner", "Practitioner/d"),
        ("a1", "location", "Location/l"),
        ("a2", "practitioner", "Practitioner/p"),
        ("e1", "patient", "Patient/p"),
    } <= rows
    assert ("e1", "patient", "Device/x") not in rows and (
        "e2",
        "patient",
        "Practitioner/p",
    ) not in rows
    assert "pk" in {column["name"] for column in inspect(engine).get_columns("booked_period")}
    upgrade(engine)
    with engine.connect() as connection:
        count = connection.execute(select(func.count()).select_from(SEARCH_INDEX)).scalar_one()
    assert count == lean
    assert _checks_before_holding(engine) in (False, None)
    assert "pk" not in {column["name"] for column in inspect(engine).get_columns("booked_period")}


def test_who_is_held_then_reads_an_index_on_actor_and_time(
    sessions: sessionmaker[Session],
) -> None:
    """The check before every booking probes an index, whatever the actors' history (as
    migration 0010's test does for the calendar: statistics made, no planner setting forced)."""
    start = datetime(2027, 1, 4, 8)
    periods = [
        {
            "appointment_id": f"a{n}",
            "actor": f"Practitioner/d{n % 40}",
            "starts": start + timedelta(minutes=20 * n),
            "ends": start + timedelta(minutes=20 * n + 20),
        }
        for n in range(4000)
    ]
    with transaction(sessions) as session:
        session.execute(insert(BOOKED_PERIODS), periods)
    with transaction(sessions) as session:
        session.execute(text("ANALYZE"))
    asked = {
        "actors": ["Practitioner/d3", "Patient/p"],
        "starts": start + timedelta(minutes=20 * 43 + 5),
        "ends": start + timedelta(minutes=20 * 43 + 25),
    }
    with transaction(sessions) as session:
        connection = session.connection()
        sent: list[tuple[str, Any]] = []
        listen = partial(event.listen, connection, "before_cursor_execute")
        listen(lambda *args: sent.append((args[2], args[3])))
        clash = CLASHES[connection.dialect.name]
        assert session.execute(clash, asked).all() == [("Practitioner/d3", "a43")]
        (statement, params), *_ = sent
        if connection.dialect.name == "postgresql":
            plan = "\n".join(
                row[0] for row in connection.exec_driver_sql(f"EXPLAIN {statement}", params)
            )
            probe = "Index Cond: ((hashtextextended((actor)::text, '0'::bigint) ="
            assert probe in plan and "Filter: ((actor)::text = a.actor)" in plan, plan
            assert "booked_period_no_overlap" in plan
        else:
            explain = connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", params)
            plan = " ".join(row[-1] for row in explain)
            assert "USING INDEX ix_booked_period_actor (actor=? AND ends>?)" in plan, plan
