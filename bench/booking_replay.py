"""One booking's own SQL replayed by pgbench: what PostgreSQL alone allows a booking here.

Books one teleconsultation through the application, in-process (the app ``maillage serve``
runs): a patient, a doctor and the doctor's room, the doctor's slot and the room's slot at the
same time, as the booking page does. It records every statement the booking sends
(SQLAlchemy's ``before_cursor_execute``) and renders each with its parameters (psycopg's
client-side binding). The pgbench script built from them sends the same statements, in one
transaction per booking, for the next pair of slots (doctor's and room's) still free when the
replay began, drawn through a sequence so that no two transactions take the same slots (their
versions read first, their compare-and-sets kept: a booking that loses a race rolls back, as
the API answers 409), with fresh appointment, patient, doctor and room ids (the recorded
times are replayed as they are, so fresh participants keep booked periods from clashing), and
the booking's AuditEvent queued as its one audit outbox row, as the store queues it (chaining
it is the chainer's work, off the booking's path). Two forms:

- as sent: one round trip per statement, as the server talks to PostgreSQL today;
- batched: consecutive statements sent as one message (pgbench's ``\\;``), the round trips left
  being those whose answer the next statement needs: the best a booking written as a few
  database calls (data-modifying CTEs, a PL/pgSQL function) could do with the same writes.

Neither runs any application code (HTTP, authentication, FHIR validation, JSON, hashing), so
their TPS is a ceiling for the API's bookings on this PostgreSQL and machine.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import psycopg
from fastapi.testclient import TestClient
from psycopg.types.json import Jsonb
from sqlalchemy import event, text
from sqlalchemy.engine import make_url

from maillage.care.codes import TELECONSULTATION as TELECONSULTATION_CODE
from maillage.care.codes import WORKFLOW_SYSTEM
from maillage.config import Settings
from maillage.server import create_app
from maillage.store.database import make_engine

#: The table of free slot pairs the script draws from (``k`` = 1..count), made in the bench
#: database, and the sequence that hands each transaction the next ``k``.
SLOTS = "bench_replay_slot"
DRAWS = "bench_replay_draw"
_DRAW = (
    "SELECT doctor_slot AS r_slot, room_slot AS r_room_slot"
    f" FROM {SLOTS} WHERE k = (SELECT nextval('{DRAWS}')) \\gset"
)
_SLOT_READ = (
    "SELECT r.resource_type, r.id, r.version_id AS {version}, r.last_updated, r.deleted, r.body"
    " FROM fhir_resource r WHERE r.resource_type = 'Slot' AND r.id = '{slot}' \\gset"
)
#: Placeholders put into the recorded parameters, then turned into pgbench expressions once the
#: statement is rendered (quoted where they stood as whole parameters, bare inside strings).
_WHOLE = {
    "'@V@'": ":r_v",
    "'@V2@'": "(:r_v + 1)",
    "'@RV@'": ":r_rv",
    "'@RV2@'": "(:r_rv + 1)",
}
_INSIDE = {
    "@A@": "a:client_id-:r_n",
    "@RS@": ":r_room_slot",
    "@S@": ":r_slot",
    "@P@": "p:client_id-:r_n",
    "@D@": "d:client_id-:r_n",
    "@L@": "l:client_id-:r_n",
}
#: Per slot of the pair (placeholder of its id): the variables of its version and its race won.
_SLOT_VARIABLES = {
    "@S@": ("r_v", "@V@", "@V2@", "r_won"),
    "@RS@": ("r_rv", "@RV@", "@RV2@", "r_won2"),
}


TELECONSULTATION = {"coding": [{"system": WORKFLOW_SYSTEM, "code": TELECONSULTATION_CODE}]}


@dataclass(frozen=True)
class Recorded:
    """The statements of one booking and the values that are this booking's own."""

    statements: list[tuple[str, Any]]
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
    statements: list[tuple[str, Any]] = []
    recording = False

    def keep(_conn: Any, _cursor: Any, sql: str, params: Any, _context: Any, many: bool) -> None:
        if recording:
            if many:
                raise RuntimeError("the booking sent an executemany: the replay cannot render it")
            statements.append((sql, params))

    event.listen(app.state.engine, "before_cursor_execute", keep)
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
        app.state.engine.dispose()
    if booked.status_code != 201:
        raise RuntimeError(f"the recorded booking failed: {booked.status_code} {booked.text[:500]}")
    queued = [s for s, _ in statements if s.startswith("INSERT INTO audit_outbox")]
    if len(queued) != 1:
        raise RuntimeError(f"expected one audit outbox row in the booking, found {len(queued)}")
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


def _rewritten(statement: str, params: dict[str, Any]) -> tuple[str, dict[str, Any], str, str]:
    """One recorded statement made replayable: statement, parameters, pgbench's end of command
    (``;`` or ``\\gset`` to keep the answer), and a tag naming the statements checked for."""
    if statement.startswith("WITH written AS (UPDATE") and params["resource_type"] == "Slot":
        _, expected, following, won = _SLOT_VARIABLES[params["id"]]
        params = {**params, "version_id": following, "expected": expected}
        counted = statement.replace(
            "SELECT count(*) FROM written", f"SELECT count(*) AS {won} FROM written"
        )
        return counted, params, " \\gset", f"cas {won}"
    if statement.startswith("INSERT INTO audit_outbox"):
        return statement, params, ";", "audit"
    return statement, params, ";", ""


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
    lines = ["\\set r_n random(1, 1000000000)", "BEGIN;", _DRAW]
    seen: set[str] = set()
    opened: list[str] = []
    plain = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(plain) as connection:
        cursor = psycopg.ClientCursor(connection)
        for recorded_sql, recorded_params in recorded.statements:
            params = _replace(recorded_params, pairs)
            if recorded_sql.startswith("SELECT fhir_resource.") and params.get("pk_1") == "Slot":
                version = _SLOT_VARIABLES[params["pk_2"]][
                    0
                ]  # this slot of the pair, and its version
                lines.append(_SLOT_READ.format(version=version, slot=_INSIDE[params["pk_2"]]))
                seen.add("read")
                continue
            statement, params, end, tag = _rewritten(recorded_sql, params)
            sql = " ".join(cursor.mogrify(statement, params).split())
            for old, new in [*_WHOLE.items(), *_INSIDE.items()]:
                sql = sql.replace(old, new)
            lines.append(sql + end)
            if tag.startswith("cas"):  # the rest only when the slot was taken, as the API does
                opened.append(tag.split()[1])
                lines.append(f"\\if :{opened[-1]}")
            seen.add(tag.split()[0] if tag else tag)
    missing = {"read", "cas", "audit"} - seen
    if missing or len(opened) != 2:
        raise RuntimeError(f"the recorded booking lacks the statements expected: {sorted(missing)}")
    rollbacks = ["\\else", "ROLLBACK;", "\\endif"] * len(opened)
    return "\n".join([*lines, "COMMIT;", *rollbacks]) + "\n"


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
    """Messages a committed booking of ``replay`` sends (the rollback branch left out)."""
    ends = [line for line in replay.splitlines() if line.endswith((";", "\\gset"))]
    return sum(not line.endswith("\\;") and line != "ROLLBACK;" for line in ends)


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
                " d.id AS doctor_slot, r.id AS room_slot"
                " FROM slot_calendar d JOIN slot_calendar r ON r.id = 'room-' || d.id"
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
