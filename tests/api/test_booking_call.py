"""The booking as one database call writes what the ordinary path writes (PostgreSQL).

On PostgreSQL the API books a new appointment through ``maillage_book`` (one call from the event
loop); every other write, and SQLite, takes the ordinary create. The API's booking tests run on
both databases and expect the same answers; here the rows themselves are compared: a
teleconsultation booked each way (a doctor's slot and the room's, a role standing for the
doctor, confirmation e-mails) leaves the same slot bodies, index and calendar rows, held
periods, e-mails and audit record, and the slot's rows are those the store derives from its
body.
"""

from __future__ import annotations

import asyncio
from typing import Any

import psycopg
import pytest
from api_server import Server
from fhir_samples import appointment, organization, practitioner, schedule, slot
from sqlalchemy import text

from maillage.care.codes import TELECONSULTATION, WORKFLOW_SYSTEM
from maillage.care.principal import Principal
from maillage.care.repository import Repository
from maillage.store import audit as audit_trail
from maillage.store import booking_call, resources, slot_calendar
from maillage.store.search_params import extract
from maillage.store.users import Role

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.parametrize("database_url", ["postgresql"], indirect=True),
]
COORDINATOR = Principal(0, "coordination@example.org", Role.COORDINATOR)


def _teleconsultation(patient: str, hour: int) -> dict[str, Any]:
    start = f"2026-03-03T{hour:02d}:00:00+01:00"
    body = appointment("x", patient, "doctor", "site-2", start)
    del body["id"]
    body["participant"][1]["actor"]["reference"] = "PractitionerRole/doctor-role"
    body["slot"] = [
        {"reference": f"Slot/doctor-{hour}"},
        {"reference": f"Slot/room-{hour}"},
    ]
    body["serviceType"] = [{"coding": [{"system": WORKFLOW_SYSTEM, "code": TELECONSULTATION}]}]
    return {**body, "status": "booked"}


@pytest.fixture
def slots(net: Server, coordinator: dict[str, str]) -> Server:
    """Doctor's and room's free slots at 9:00 and 10:00; the doctor has an e-mail address,
    the patient none but their EHPAD has one (told on their behalf)."""
    email = [{"system": "email", "value": "contact@ehpad.example.org"}]
    net.put({**organization("msp-2", kind="EHPAD", city="Verdun"), "telecom": email}, coordinator)
    email = [{"system": "email", "value": "docteur@example.org"}]
    net.put({**practitioner("doctor"), "telecom": email}, coordinator)
    net.put(schedule("room-schedule", "Location/site-2"), coordinator)
    for hour in (9, 10):
        start, end = f"2026-03-03T{hour:02d}:00:00+01:00", f"2026-03-03T{hour:02d}:20:00+01:00"
        net.put(slot(f"doctor-{hour}", "doctor-schedule", start, end), coordinator)
        net.put(slot(f"room-{hour}", "room-schedule", start, end), coordinator)
    return net


def _written(server: Server, appointment_id: str, hour: int) -> dict[str, Any]:
    """What a booking wrote, with ids, times and its video room set aside."""
    with server.app.state.engine.connect() as connection:

        def rows(sql: str, **values: Any) -> list[Any]:
            return [tuple(row) for row in connection.execute(text(sql), values)]

        found: dict[str, Any] = {}
        for kind in ("doctor", "room"):
            slot_id = f"{kind}-{hour}"
            (body,) = rows(
                "SELECT body FROM fhir_resource WHERE resource_type = 'Slot' AND id = :id",
                id=slot_id,
            )[0]
            index = set(
                rows(
                    "SELECT param, system, value, low, high FROM fhir_search"
                    " WHERE resource_type = 'Slot' AND resource_id = :id",
                    id=slot_id,
                )
            )
            derived = extract("Slot", slot_id, body, server.settings.zone)
            kept = resources.index_rows("Slot", slot_id, derived)
            assert index == {tuple(row[c] for c in resources.INDEX_VALUES) for row in kept}
            (calendar,) = rows(
                "SELECT schedule, status, start_low, start_high FROM slot_calendar WHERE id = :id",
                id=slot_id,
            )
            expected = slot_calendar.row(slot_id, derived, body["meta"]["lastUpdated"])
            assert calendar == tuple(
                expected[c] for c in ("schedule", "status", "start_low", "start_high")
            )
            versions = rows(
                "SELECT version_id FROM fhir_resource_version WHERE resource_type = 'Slot'"
                " AND id = :id ORDER BY version_id",
                id=slot_id,
            )
            values = {row for row in index if row[3] is None}  # dates differ: another hour
            found[kind] = (_plain(body), values, calendar[:2], versions)
        (stored,) = rows(
            "SELECT body FROM fhir_resource WHERE resource_type = 'Appointment' AND id = :id",
            id=appointment_id,
        )[0]
        index = rows(
            "SELECT param, system, value FROM fhir_search WHERE resource_type = 'Appointment'"
            " AND resource_id = :id ORDER BY 1, 2, 3",
            id=appointment_id,
        )
        derived = extract("Appointment", appointment_id, stored, server.settings.zone)
        assert sorted(index, key=repr) == sorted(
            ((v.param, v.system, v.value) for v in derived), key=repr
        )
        found["appointment"] = _plain(stored)
        found["periods"] = rows(
            "SELECT actor, starts, ends FROM booked_period WHERE appointment_id = :id ORDER BY 1",
            id=appointment_id,
        )
        found["e-mails"] = rows(
            "SELECT recipient, status, attempts FROM outbox_message WHERE source = :source"
            " ORDER BY 1",
            source=f"Appointment/{appointment_id}",
        )
    audit_trail.drain(server.app.state.sessions, server.settings.zone)
    with server.app.state.engine.connect() as connection:
        events = connection.execute(
            text(
                "SELECT body FROM fhir_resource WHERE resource_type = 'AuditEvent'"
                " AND body::text LIKE :mention"
            ),
            {"mention": f"%Appointment/{appointment_id}%"},
        ).scalars()
        found["audit"] = [
            (e["outcome"], e["action"], [x["what"]["reference"] for x in e["entity"]])
            for e in events
        ]
    return found


def _plain(body: dict[str, Any]) -> dict[str, Any]:
    """A body without what differs between two writes: ids, times, the video room."""
    return {
        key: value
        for key, value in body.items()
        if key not in ("id", "meta", "start", "end", "slot", "extension")
    }


@pytest.mark.parametrize(
    "base",
    ["", "https://annuaire.example.org/fhir/"],
    ids=["relative", "absolute"],
)
def test_one_call_and_the_ordinary_path_write_the_same(
    slots: Server, coordinator: dict[str, str], base: str
) -> None:
    """Also when the role's practitioner and the patient's organisation, which the one call
    reads with the participants when they are ``Type/id``, are absolute references (a second
    read then)."""
    assert slots.app.state.reads is not None  # the API books in one call
    for reference, field in (
        ("PractitionerRole/doctor-role", "practitioner"),
        ("Patient/patient-2", "managingOrganization"),
    ):
        body = slots.client.get(f"/fhir/{reference}", headers=coordinator).json()
        slots.put({**body, field: {"reference": base + body[field]["reference"]}}, coordinator)
    answer = slots.client.post(
        "/fhir/Appointment", json=_teleconsultation("patient-2", 9), headers=coordinator
    )
    assert answer.status_code == 201, answer.text
    one_call = answer.json()["id"]
    ordinary = Repository(slots.app.state.sessions, slots.settings, COORDINATOR)  # no pool
    written = asyncio.run(ordinary.book(_teleconsultation("patient-2", 10)))
    fast, slow = _written(slots, one_call, 9), _written(slots, written.row.id, 10)
    assert fast["e-mails"], "a teleconsultation tells its participants"
    for what in ("doctor", "room"):
        assert fast[what] == slow[what]
        assert fast[what][2][1] == "busy"
    assert fast["appointment"] == slow["appointment"]
    assert (
        [p[0] for p in fast["periods"]]
        == [p[0] for p in slow["periods"]]
        == [
            "Location/site-2",
            "Patient/patient-2",
            "Practitioner/doctor",
        ]
    )
    assert fast["e-mails"] == slow["e-mails"]
    assert [(o, a, sorted(e)) for o, a, e in fast["audit"]] == [
        (o, a, sorted(e.replace(written.row.id, one_call) for e in entities))
        for o, a, entities in slow["audit"]
    ]


def test_a_refusal_of_the_one_call_is_the_ordinary_paths_and_writes_nothing(
    slots: Server, coordinator: dict[str, str]
) -> None:
    first = slots.client.post(
        "/fhir/Appointment", json=_teleconsultation("patient-2", 9), headers=coordinator
    )
    assert first.status_code == 201
    again = _teleconsultation("patient-1", 9)
    fast = slots.client.post("/fhir/Appointment", json=again, headers=coordinator)
    ordinary = Repository(slots.app.state.sessions, slots.settings, COORDINATOR)
    with pytest.raises(Exception) as slow:
        asyncio.run(ordinary.book(again))
    assert fast.status_code == 409
    issue = fast.json()["issue"][0]
    assert issue["diagnostics"] == str(slow.value) == "Slot/doctor-9 is busy, not free"
    with slots.app.state.engine.connect() as connection:
        booked = connection.execute(
            text(
                "SELECT count(*) FROM fhir_resource WHERE resource_type = 'Appointment'"
                " AND body::text LIKE '%patient-1%' AND body->>'status' = 'booked'"
            )
        ).scalar_one()
    assert booked == 0


def test_a_person_held_then_is_named_as_the_ordinary_path_names_them(
    slots: Server, coordinator: dict[str, str]
) -> None:
    """``maillage_book`` leaves the overlap to the exclusion constraint; its refusal still
    names who is held and by which appointment, in the ordinary path's words."""
    first = slots.client.post(
        "/fhir/Appointment", json=_teleconsultation("patient-2", 9), headers=coordinator
    )
    assert first.status_code == 201
    again = {k: v for k, v in _teleconsultation("patient-2", 9).items() if k != "slot"}
    fast = slots.client.post("/fhir/Appointment", json=again, headers=coordinator)
    ordinary = Repository(slots.app.state.sessions, slots.settings, COORDINATOR)
    with pytest.raises(Exception) as slow:
        asyncio.run(ordinary.book(again))
    held = ("Location/site-2", "Patient/patient-2", "Practitioner/doctor")
    expected = ", ".join(f"{who} (Appointment/{first.json()['id']})" for who in held)
    assert fast.status_code == 409, fast.text
    diagnostics = fast.json()["issue"][0]["diagnostics"]
    assert diagnostics == str(slow.value) == f"already booked then: {expected}"


def test_the_participants_read_answers_only_the_pairs_asked_for(
    net: Server, coordinator: dict[str, str]
) -> None:
    """Types and ids go as two lists (no join to plan): a resource of one asked type with
    another asked type's id is not a participant."""
    for body in (practitioner("doctor"), practitioner("site-2")):
        net.put(body, coordinator)
    url = net.settings.sqlalchemy_url.replace("postgresql+psycopg", "postgresql", 1)

    async def read() -> dict[str, Any]:
        async with await psycopg.AsyncConnection.connect(url) as connection:
            asked = ["Practitioner/doctor", "Location/site-2", "Patient/nobody"]
            return await booking_call.live_many(connection, asked)

    found = asyncio.run(read())
    assert sorted(found) == ["Location/site-2", "Practitioner/doctor"]
    assert found["Location/site-2"].body["resourceType"] == "Location"


def test_the_read_function_follows_the_hops_the_rules_follow(net: Server) -> None:
    """``maillage_booking_reads`` (migration 0018) holds its own copy of the hops and of the
    followed reference's pattern: they must stay those of :mod:`maillage.store.booking_call`,
    or a rule would find a hop unread (a ``LookupError``) or read one it should not."""
    url = net.settings.sqlalchemy_url.replace("postgresql+psycopg", "postgresql", 1)
    with psycopg.connect(url) as connection:
        found = connection.execute(
            "SELECT pg_get_functiondef('maillage_booking_reads'::regproc)"
        ).fetchone()
    assert found is not None
    definition = " ".join(found[0].split())
    hops = [
        f"WHEN '{kind}' THEN a.body->'{field}'->>'reference'"
        for kind, field in booking_call.HOPS.items()
    ]
    assert f"CASE a.resource_type {' '.join(hops)} END" in definition
    assert f"reference ~ '^{booking_call.RELATIVE.pattern}$'" in definition
