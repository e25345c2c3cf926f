"""One booking's own SQL replayed by pgbench: what PostgreSQL alone allows a booking here.

Books one teleconsultation through the application, in-process (the app ``maillage serve``
runs): a patient, a doctor and the doctor's room, the doctor's slot and the room's slot at the
same time, as the booking page does. It records what the booking sends on the asynchronous
connection (:mod:`maillage.store.booking_call`): the reads of its rules and the one call of
``maillage_book`` that writes it, rendered with their parameters (psycopg's client-side
binding). The pgbench script built from them sends the same, for the next pair of slots
(doctor's and room's) still free when the replay began, drawn through a sequence so that no
two transactions take the same slots, with the pair's own times (the function checks the
appointment against its slots) and fresh appointment, patient, doctor and room ids (so that
held periods never clash). Two forms:

- as sent: one round trip per statement, as the server talks to PostgreSQL;
- batched: consecutive statements sent as one message (pgbench's ``\\;``): the read sent
  with the call, the least a booking could cost in round trips.

Neither runs any application code (HTTP, authentication, FHIR validation, JSON, e-mails), so
their TPS is a ceiling for the API's bookings on this PostgreSQL and machine. Nor do they send
what the server sends after a booking's commit, off its path: the announcement of the
schedules to the other processes (``NOTIFY``, one transaction for all the bookings committed
meanwhile, migration 0016), which the API phases count.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import psycopg
from fastapi.testclient import TestClient
from psycopg.types.json import Jsonb
from sqlalchemy import text
from sqlalchemy.engine import make_url

from maillage.care.codes import TELECONSULTATION as TELECONSULTATION_CODE
from maillage.care.codes import WORKFLOW_SYSTEM
from maillage.config import Settings
from maillage.server import create_app
from maillage.store import booking_call
from maillage.store.database import make_engine

#: The table of free slot pairs the script draws from (``k`` = 1..count), with their times,
#: made in the bench database, and the sequence that hands each transaction the next ``k``.
SLOTS = "bench_replay_slot"
DRAWS = "bench_replay_draw"
_DRAW = (
    "SELECT k AS r_k, doctor_slot AS r_slot, room_slot AS r_room_slot, starts AS r_starts,"
    " ends AS r_ends"
    f" FROM {SLOTS} WHERE k = (SELECT nextval('{DRAWS}')) \\gset"
)
#: Placeholders put into the recorded parameters, then turned into pgbench variables once the
#: statement is rendered. The new ids carry the draw's number, unique to each transaction (a
#: random number per transaction once drew the same appointment id twice in a run).
_VARIABLES = {
    "@A@": "a:r_k",
    "@RS@": ":r_room_slot",
    "@S@": ":r_slot",
    "@P@": "p:r_k",
    "@D@": "d:r_k",
    "@L@": "l:r_k",
    "@ST@": ":r_starts",
    "@EN@": ":r_ends",
}


TELECONSULTATION = {"coding": [{"system": WORKFLOW_SYSTEM, "code": TELECONSULTATION_CODE}]}


@dataclass(frozen=True)
class Recorded:
    """The statements of one booking and the values that are this booking's own."""

    statements: list[tuple[str, dict[str, Any]]]
    appointment: str
    slot: str
    room_slot: str
    practitioner: str
    room: str


def record(settings: Settings, token: str, schedule: str, practitioner: str, room: str) -> Recorded:
    """Book the first free slot of ``schedule`` with ``practitioner``, and the slot of
    ``room`` at the same time (``room-`` and the slot's id), for a patient created for it,
    through the API in-process, recording the booking's statements (and only them)."""
    app = create_app(settings)
    statements: list[tuple[str, dict[str, Any]]] = []
    recording = False
    execute = booking_call.execute

    async def recorded(connection: Any, sql: str, params: dict[str, Any]) -> list:
        if recording:
            statements.append((sql, params))
        return await execute(connection, sql, params)

    booking_call.execute = recorded
    headers = {"Authorization": f"Bearer {token}"}
    try:
        with TestClient(app) as client:
            found = client.get(
                "/fhir/Slot",
                params={"schedule": f"Schedule/{schedule}", "status": "free"},
                headers=headers,
            )
            slot = found.json()["entry"][0]["resource"]
            patient = {"resourceType": "Patient", "id": "replay", "name": [{"family": "Replay"}]}
            client.put("/fhir/Patient/replay", json=patient, headers=headers).raise_for_status()
            body = {
                "resourceType": "Appointment",
                "status": "booked",
                "serviceType": [TELECONSULTATION],
                "slot": [
                    {"reference": f"Slot/{slot['id']}"},
                    {"reference": f"Slot/room-{slot['id']}"},
                ],
                "start": slot["start"],
                "end": slot["end"],
                "participant": [
                    {"actor": {"reference": actor}, "status": "accepted"}
                    for actor in ("Patient/replay", practitioner, room)
                ],
            }
            recording = True
            booked = client.post(
                "/fhir/Appointment",
                json=body,
                headers={**headers, "Content-Type": "application/fhir+json"},
            )
            recording = False
    finally:
        booking_call.execute = execute
        app.state.engine.dispose()
    if booked.status_code != 201:
        raise RuntimeError(f"the recorded booking failed: {booked.status_code} {booked.text[:500]}")
    if [sql for sql, _ in statements].count(booking_call.BOOK) != 1:
        raise RuntimeError("expected the booking as one call of maillage_book")
    appointment = booked.json()["id"]
    return Recorded(statements, appointment, slot["id"], f"room-{slot['id']}", practitioner, room)


def _replace(value: Any, pairs: list[tuple[str, str]]) -> Any:
    """``value`` with every string in it (dicts, lists, JSON bodies) rewritten by ``pairs``."""
    if isinstance(value, str):
        for old, new in pairs:
            value = value.replace(old, new)
        return value
    if isinstance(value, Jsonb):
        return Jsonb(_replace(value.obj, pairs))
    if isinstance(value, dict):
        return {k: _replace(v, pairs) for k, v in value.items()}
    if isinstance(value, list):
        return [_replace(v, pairs) for v in value]
    return value


def script(recorded: Recorded, url: str) -> str:
    """The pgbench script (as sent: one command per statement) replaying ``recorded``."""
    pairs = [
        (recorded.appointment, "@A@"),
        (recorded.room_slot, "@RS@"),  # first: the doctor's slot id is inside the room's
        (recorded.slot, "@S@"),
        ("Patient/replay", "Patient/@P@"),
        (recorded.practitioner, "Practitioner/@D@"),
        (recorded.room, "Location/@L@"),
    ]
    lines = [_DRAW]
    plain = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(plain) as connection:
        cursor = psycopg.ClientCursor(connection)
        for statement, recorded_params in recorded.statements:
            params = _replace(recorded_params, pairs)
            if statement == booking_call.BOOK:  # the drawn pair's times, for its checks
                booking = {**params["booking"].obj, "starts": "@ST@", "ends": "@EN@"}
                params = {**params, "booking": Jsonb(booking)}
            sql = " ".join(cursor.mogrify(statement, params).split())
            for old, new in _VARIABLES.items():
                sql = sql.replace(old, new)
            lines.append(sql + ";")
    return "\n".join(lines) + "\n"


def batched(as_sent: str) -> str:
    """``as_sent`` with each run of consecutive plain statements sent as one message; a run
    ends at a statement whose answer is kept (``\\gset``) or at a pgbench command."""
    out: list[str] = []
    run: list[str] = []

    def close() -> None:
        if run:
            out.append("\n".join([*(s.removesuffix(";") + " \\;" for s in run[:-1]), run[-1]]))
            run.clear()

    for line in as_sent.splitlines():
        if line.startswith("\\"):
            close()
            out.append(line)
        else:
            run.append(line)
            if line.endswith("\\gset"):
                close()
    close()
    return "\n".join(out) + "\n"


def round_trips(replay: str) -> int:
    """Messages a booking of ``replay`` sends."""
    ends = [line for line in replay.splitlines() if line.endswith((";", "\\gset"))]
    return sum(not line.endswith("\\;") for line in ends)


def draw_from_slots(url: str) -> int:
    """Make the table of the pairs of free slots (a doctor's and the room's at the same time)
    the script draws from, and the sequence that hands them out; returns how many there are."""
    engine = make_engine(url)
    with engine.begin() as connection:
        connection.execute(text(f"DROP TABLE IF EXISTS {SLOTS}"))
        connection.execute(text(f"DROP SEQUENCE IF EXISTS {DRAWS}"))
        connection.execute(text(f"CREATE SEQUENCE {DRAWS}"))
        connection.execute(
            text(
                f"CREATE TABLE {SLOTS} AS SELECT row_number() OVER (ORDER BY d.id) AS k,"
                " d.id AS doctor_slot, r.id AS room_slot,"
                " to_char((s.body->>'start')::timestamptz AT TIME ZONE 'UTC',"
                " 'YYYY-MM-DD\"T\"HH24:MI:SS') AS starts,"
                " to_char((s.body->>'end')::timestamptz AT TIME ZONE 'UTC',"
                " 'YYYY-MM-DD\"T\"HH24:MI:SS') AS ends"
                " FROM slot_calendar d JOIN slot_calendar r ON r.id = 'room-' || d.id"
                " JOIN fhir_resource s ON s.resource_type = 'Slot' AND s.id = d.id"
                " WHERE d.schedule LIKE 'Schedule/sched-%' AND d.status = 'free'"
                " AND r.status = 'free'"
            )
        )
        connection.execute(text(f"ALTER TABLE {SLOTS} ADD PRIMARY KEY (k)"))
        count = connection.execute(text(f"SELECT count(*) FROM {SLOTS}")).scalar_one()
    engine.dispose()
    return int(count)


def drawn(url: str) -> int:
    """How many pairs the replays have drawn so far."""
    engine = make_engine(url)
    with engine.connect() as connection:
        found = connection.execute(text(f"SELECT last_value FROM {DRAWS}")).scalar_one()
    engine.dispose()
    return int(found)


def appointments(url: str) -> int:
    """Appointments stored, to count the bookings a replay committed."""
    engine = make_engine(url)
    with engine.connect() as connection:
        found = connection.execute(
            text("SELECT count(*) FROM fhir_resource WHERE resource_type = 'Appointment'")
        ).scalar_one()
    engine.dispose()
    return int(found)
