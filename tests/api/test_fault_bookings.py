"""Standing fault test (issue 14): concurrent bookings while the server (two worker processes)
is killed with SIGKILL and restarted, its workers are killed one at a time, and its PostgreSQL
backends are terminated. No acknowledged booking may be lost, and no participant (patient,
doctor, room) may ever be booked twice at once.

Clients book at random (a fixed seed) among few doctors, rooms and start times, so that most
attempts clash; a chaos thread runs the faults of :data:`CHAOS` in turn: SIGKILL of a worker
(uvicorn starts another), SIGKILL of the whole ``maillage serve`` and a restart, and
``pg_terminate_backend`` of the server's connections. The check reads the database directly,
not through the server under test.
"""

from __future__ import annotations

import random
import threading
import time
from collections import Counter, defaultdict
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from api_server import SECRET, Served, Server, free_port
from fhir_samples import location, organization

from maillage.care.appointments import HOLDS_TIME

CHAOS = ("kill-worker", "terminate", "kill", "terminate", "kill-worker", "terminate")
"""The faults, in order, each after ``LOAD_S`` of bookings (a restart takes seconds more)."""
LOAD_S = 2.5
CLIENTS = 6
DOCTORS, ROOMS, PATIENTS = 12, 8, 150
STARTS = [
    datetime(2026, 6, day, 8) + timedelta(minutes=10 * k) for day in (1, 2) for k in range(54)
]
MINUTES = 20
APPLICATION = "maillage-under-fault"
"""The application_name of the served process's connections: the ones the chaos terminates."""


def _booking(rng: random.Random) -> dict[str, Any]:
    start = rng.choice(STARTS)
    actors = (
        f"Patient/fault-p{rng.randrange(PATIENTS)}",
        f"Practitioner/fault-d{rng.randrange(DOCTORS)}",
        f"Location/room-{rng.randrange(ROOMS)}",
    )
    return {
        "resourceType": "Appointment",
        "status": "booked",
        "start": f"{start.isoformat()}+02:00",
        "end": f"{(start + timedelta(minutes=MINUTES)).isoformat()}+02:00",
        "participant": [{"actor": {"reference": a}, "status": "accepted"} for a in actors],
    }


class Load:
    """Clients booking until told to stop; what the server acknowledged, and every answer."""

    def __init__(self, base: str, headers: dict[str, str]) -> None:
        self.base, self.headers = base, headers
        self.stop = threading.Event()
        self.acknowledged: dict[str, dict[str, Any]] = {}
        self.answers: Counter[str] = Counter()
        self.lock = threading.Lock()

    def client(self, seed: int) -> None:
        rng = random.Random(seed)
        with httpx.Client(base_url=self.base, headers=self.headers, timeout=10) as http:
            while not self.stop.is_set():
                body = _booking(rng)
                try:
                    response = http.post("/fhir/Appointment", json=body)
                except httpx.HTTPError as error:  # the server was killed under the request
                    self._count(type(error).__name__)
                    time.sleep(0.2)  # while it starts again
                    continue
                self._count(str(response.status_code))
                if response.status_code == 201:
                    stored = response.json()
                    with self.lock:
                        self.acknowledged[stored["id"]] = stored

    def _count(self, answer: str) -> None:
        with self.lock:
            self.answers[answer] += 1


class Chaos:
    """The faults of :data:`CHAOS`, under load: SIGKILL the server and start it again, or
    terminate its PostgreSQL backends."""

    def __init__(self, served: Served, database_url: str) -> None:
        self.served, self.dsn = served, database_url.replace("+psycopg", "")
        self.kills = self.worker_kills = self.terminated = 0

    def run(self) -> None:
        for fault in CHAOS:
            time.sleep(LOAD_S)
            if fault == "kill":
                self.served.kill()
                self.kills += 1
                self.served.start()
            elif fault == "kill-worker":
                self.served.kill_worker()
                self.worker_kills += 1
            else:
                self.terminated += self.terminate()
        time.sleep(LOAD_S)

    def terminate(self) -> int:
        query = (
            "SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE datname = current_database() AND application_name = %s"
        )
        with psycopg.connect(self.dsn, autocommit=True) as connection:
            row = connection.execute(query, (APPLICATION,)).fetchone()
        return int(row[0]) if row else 0


def _stored_appointments(database_url: str) -> dict[str, dict[str, Any]]:
    query = "SELECT id, body FROM fhir_resource WHERE resource_type = 'Appointment' AND NOT deleted"
    with psycopg.connect(database_url.replace("+psycopg", "")) as connection:
        return {row[0]: row[1] for row in connection.execute(query)}


def double_bookings(appointments: dict[str, dict[str, Any]]) -> list[str]:
    """Pairs of time-holding appointments that share a participant and overlap."""
    periods: dict[str, list[tuple[datetime, datetime, str]]] = defaultdict(list)
    for aid, body in appointments.items():
        if body.get("status") not in HOLDS_TIME:
            continue
        start, end = datetime.fromisoformat(body["start"]), datetime.fromisoformat(body["end"])
        for participant in body.get("participant", []):
            periods[participant["actor"]["reference"]].append((start, end, aid))
    clashes = []
    for actor, held in periods.items():
        held.sort()
        latest, holder = held[0][1], held[0][2]
        for start, end, aid in held[1:]:
            if start < latest:
                clashes.append(f"{actor}: {holder} and {aid}")
            if end > latest:
                latest, holder = end, aid
    return clashes


def test_double_bookings_are_found() -> None:
    """The checker itself: two overlapping appointments of one room are a double booking."""
    rng = random.Random(1)
    first, second = _booking(rng), _booking(rng)
    second |= {"start": first["start"], "end": first["end"]}
    second["participant"][2] = first["participant"][2]
    assert len(double_bookings({"a": first, "b": second})) == 1
    assert double_bookings({"a": first, "b": second | {"status": "cancelled"}}) == []


@pytest.mark.slow
@pytest.mark.parametrize(
    "database_url", [pytest.param("postgresql", marks=pytest.mark.postgres)], indirect=True
)
def test_no_acknowledged_booking_is_lost_and_nobody_is_booked_twice(
    server: Server, database_url: str, coordinator: dict[str, str], tmp_path: Path
) -> None:
    server.put(organization("msp-1"), coordinator)
    for n in range(ROOMS):
        server.put(location(f"room-{n}", "msp-1"), coordinator)
    separator = "&" if "?" in database_url else "?"
    served = Served(
        free_port(),
        {
            "MAILLAGE_DATABASE_URL": f"{database_url}{separator}application_name={APPLICATION}",
            "MAILLAGE_SECRET_KEY": SECRET,
            "MAILLAGE_FILES_DIR": str(tmp_path / "files"),
        },
        workers=2,
    )
    served.start()
    load = Load(served.base, coordinator)
    chaos = Chaos(served, database_url)
    clients = [threading.Thread(target=load.client, args=(seed,)) for seed in range(CLIENTS)]
    try:
        for client in clients:
            client.start()
        chaos.run()
    finally:
        load.stop.set()
        for client in clients:
            client.join(timeout=30)
        served.kill()

    stored = _stored_appointments(database_url)
    lost = [aid for aid in load.acknowledged if aid not in stored]
    changed = [
        aid
        for aid, body in load.acknowledged.items()
        if aid in stored
        and (stored[aid]["start"], stored[aid]["status"]) != (body["start"], "booked")
    ]
    clashes = double_bookings(stored)
    print(
        f"\n{len(load.acknowledged)} acknowledged bookings, {sum(load.answers.values())} "
        f"attempts {dict(load.answers)}, {chaos.kills} server and {chaos.worker_kills} worker "
        f"SIGKILLs, {chaos.terminated} backends terminated, {len(lost)} lost, "
        f"{len(clashes)} double bookings"
    )
    # The server always holds a connection of its read pool: each termination ends one at least.
    assert (chaos.kills, chaos.worker_kills) == (1, 2), "the chaos did not happen"
    assert chaos.terminated >= 3, "the chaos did not happen"
    assert len(load.acknowledged) >= 50, load.answers
    assert load.answers["500"] == 0, load.answers
    assert lost == [] and changed == []
    assert clashes == []
