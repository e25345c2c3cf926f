"""Migration 0016 (issue 23): a slot's status held by the slot calendar alone and searched
there, ``maillage_book`` quieting the calendar's trigger, and the booked periods' exclusion
constraint on the actor's hash; each way back restores what was there."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from alembic import command
from sqlalchemy import Engine, select, text
from sqlalchemy.orm import Session, sessionmaker

from maillage.store import resources, search
from maillage.store.database import alembic_config, transaction, upgrade
from maillage.store.models import SEARCH_INDEX, Resource

ZONE = ZoneInfo("Europe/Paris")
SLOT = {
    "resourceType": "Slot",
    "schedule": {"reference": "Schedule/dr-martin"},
    "status": "free",
    "start": "2027-03-29T09:00:00+02:00",
    "end": "2027-03-29T09:20:00+02:00",
}


def _status_rows(engine: Engine) -> set[tuple[str, str]]:
    query = select(SEARCH_INDEX.c.resource_id, SEARCH_INDEX.c.value).where(
        SEARCH_INDEX.c.resource_type == "Slot", SEARCH_INDEX.c.param == "status"
    )
    with engine.connect() as connection:
        return {(row[0], row[1]) for row in connection.execute(query)}


def _found(session: Session, value: str) -> list[str]:
    criteria, ids = search.parse("Slot", [("status", value)])
    statement = search.statement("Slot", criteria, ids, ZONE).order_by(Resource.id)
    return [row.id for row in session.scalars(statement)]


def _downgrade(engine: Engine, revision: str) -> None:
    config = alembic_config(engine)
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, revision)


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
        assert _found(session, "free") == ["s1"] and _found(session, "busy") == ["s2"]
        assert _found(session, "|busy") == ["s2"] and _found(session, "urn:x|busy") == []
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
