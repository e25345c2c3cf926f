"""A save writes a whole version: the current row, the version kept for history, the search
index of that version only and, for a slot, its calendar row; an update whose version was
overtaken writes nothing at all (PostgreSQL sends it all as one statement, SQLite one by one)."""

from __future__ import annotations

from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from maillage.store import one_statement_write, resources, slot_calendar
from maillage.store.database import make_engine, session_factory, transaction, upgrade
from maillage.store.models import Resource, ResourceVersion, SearchEntry, SlotCalendar
from maillage.store.search_params import extract

ZONE = ZoneInfo("Europe/Paris")
SLOT = {
    "resourceType": "Slot",
    "schedule": {"reference": "Schedule/dr-martin"},
    "status": "free",
    "start": "2027-03-29T09:00:00+02:00",
    "end": "2027-03-29T09:20:00+02:00",
}


def _state(session: Session) -> dict:
    """What the store holds of Slot/s1: versions kept, index rows, calendar row."""
    versions = session.scalars(
        select(ResourceVersion.version_id).where(ResourceVersion.id == "s1").order_by("version_id")
    ).all()
    index = session.execute(
        select(SearchEntry.param, SearchEntry.value).where(SearchEntry.resource_id == "s1")
    ).all()
    calendar = session.execute(
        select(SlotCalendar.schedule, SlotCalendar.status).where(SlotCalendar.id == "s1")
    ).all()
    return {"versions": list(versions), "index": sorted(index, key=str), "calendar": calendar}


def test_an_update_replaces_the_index_and_keeps_every_version(
    sessions: sessionmaker[Session],
) -> None:
    with transaction(sessions) as session:
        resources.save(session, SLOT, ZONE, resource_id="s1")
    with transaction(sessions) as session:
        moved = {**SLOT, "status": "busy", "schedule": {"reference": "Schedule/cabine-2"}}
        row = resources.save(session, moved, ZONE, resource_id="s1")
        assert row.version_id == 2 and row.body["meta"]["versionId"] == "2"
    with transaction(sessions) as session:
        state = _state(session)
        assert resources.read(session, "Slot", "s1").body["status"] == "busy"
    assert state["versions"] == [1, 2]
    assert ("schedule", "Schedule/cabine-2") in state["index"]
    assert len(state["index"]) == 2  # schedule, start: the first version's rows are gone
    assert state["calendar"] == [("Schedule/cabine-2", "busy")]


@pytest.mark.postgres
def test_an_overtaken_update_writes_nothing(postgres_url: str) -> None:
    engine = make_engine(postgres_url)
    upgrade(engine)
    sessions = session_factory(engine)
    with transaction(sessions) as session:  # the run's database is shared: start clean
        session.execute(SlotCalendar.__table__.delete())
        for table in (ResourceVersion, SearchEntry):
            session.execute(table.__table__.delete())
        session.execute(Resource.__table__.delete())
        resources.save(session, SLOT, ZONE, resource_id="s1")
        resources.save(session, {**SLOT, "status": "busy"}, ZONE, resource_id="s1")
    with transaction(sessions) as session:
        before = _state(session)
        late = {**SLOT, "id": "s1", "status": "busy-tentative"}  # written against version 1
        found = extract("Slot", "s1", late, ZONE)
        values = {"resource_type": "Slot", "id": "s1", "version_id": 2, "deleted": False}
        values |= {"last_updated": resources.utcnow(), "body": late}
        index = resources.index_rows("Slot", "s1", found)
        calendar = slot_calendar.row("s1", found, values["last_updated"])
        connection = session.connection()
        assert one_statement_write.write(connection, values, 1, index, calendar) == 0
    with transaction(sessions) as session:
        assert _state(session) == before
        assert resources.read(session, "Slot", "s1").body["status"] == "busy"
    engine.dispose()
