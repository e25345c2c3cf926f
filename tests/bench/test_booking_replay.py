"""The booking replay (bench/booking_replay.py) books for real: a ceiling measured on
transactions that roll back or fail would be no ceiling (an early draft of it replayed a
compare-and-set that never matched, and so measured rollbacks)."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import NoReturn
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from bench import bench_booking, booking_replay
from maillage.config import Settings
from maillage.store import booking_call, resources
from maillage.store.database import make_engine, session_factory, transaction, upgrade
from maillage.store.models import Base

pytestmark = [pytest.mark.postgres, pytest.mark.slow]
TABLES = ", ".join(table.name for table in Base.metadata.sorted_tables)
TRANSACTIONS = 10  # per client; 3 clients


def _counts(url: str) -> dict[str, int]:
    queries = {
        "appointments": "SELECT count(*) FROM fhir_resource WHERE resource_type = 'Appointment'",
        "queued events": "SELECT count(*) FROM audit_outbox",
        "periods": "SELECT count(*) FROM booked_period",
        "slot bumps": "SELECT coalesce(sum(version_id - 1), 0) FROM fhir_resource"
        " WHERE resource_type = 'Slot'",
        "busy in calendar": "SELECT count(*) FROM slot_calendar WHERE status = 'busy'",
    }
    engine = make_engine(url)
    with engine.connect() as connection:
        found = {k: int(connection.execute(text(q)).scalar_one()) for k, q in queries.items()}
    engine.dispose()
    return found


def _pgbench(url: str, script: Path) -> str:
    parts = make_url(url)
    command = ["pgbench", "-h", parts.host or "127.0.0.1", "-p", str(parts.port or 5432)]
    command += ["-U", parts.username or "postgres", "-n", "-c", "3", "-j", "1"]
    command += ["-t", str(TRANSACTIONS), "-f", str(script), parts.database or ""]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


@pytest.fixture
def seeded(postgres_url: str, missing_service: Callable[[str], NoReturn]) -> Iterator[dict]:
    """The benchmark's data on the run's PostgreSQL database; the replay's slot table is
    dropped afterwards (it is not part of the schema the migration tests compare)."""
    if shutil.which("pgbench") is None:
        missing_service("pgbench is missing (Debian package postgresql-client)")
    engine = make_engine(postgres_url)
    upgrade(engine)
    with engine.begin() as connection:  # the server's test database is shared by the run
        connection.execute(text(f"TRUNCATE {TABLES} RESTART IDENTITY CASCADE"))
    engine.dispose()
    settings = Settings(
        database_url=postgres_url, secret_key=bench_booking.SECRET, token_minutes=60
    )
    # Two days: 6,000 slots, more than the replays' 60 bookings need.
    yield {"settings": settings, **bench_booking.seed(postgres_url, settings, days=2)}
    engine = make_engine(postgres_url)
    with engine.begin() as connection:
        connection.execute(text(f"DROP TABLE IF EXISTS {booking_replay.SLOTS}"))
    engine.dispose()


def test_each_replayed_transaction_is_a_committed_booking(
    postgres_url: str, seeded: dict, tmp_path: Path
) -> None:
    recorded = booking_replay.record(
        seeded["settings"], seeded["tokens"][0], "sched-3", "Practitioner/doc-3", "Location/room-3"
    )
    # The reads of its rules, then the booking as one call that writes it.
    assert [sql for sql, _ in recorded.statements][-1] == booking_call.BOOK
    pairs = booking_replay.draw_from_slots(postgres_url)
    assert pairs == seeded["slots"] // 2 - 1  # a doctor's and the room's, less the recorded
    as_sent = booking_replay.script(recorded, postgres_url)
    batched = booking_replay.batched(as_sent)
    assert booking_replay.round_trips(batched) < booking_replay.round_trips(as_sent)
    for replay in (as_sent, batched):
        before = _counts(postgres_url)
        script = tmp_path / "replay.sql"
        script.write_text(replay, encoding="utf-8")
        _pgbench(postgres_url, script)
        grown = {k: v - before[k] for k, v in _counts(postgres_url).items()}
        # Each transaction drew its own free pair of slots: none lost a race, all committed.
        assert grown["appointments"] == 3 * TRANSACTIONS
        # Each booking took two slots (their versions bumped once), queued its AuditEvent as
        # one audit outbox row, and wrote the three booked periods of patient, doctor and room.
        assert grown["slot bumps"] == grown["busy in calendar"] == 2 * 3 * TRANSACTIONS
        assert grown["queued events"] == 3 * TRANSACTIONS
        assert grown["periods"] == 3 * 3 * TRANSACTIONS
    assert booking_replay.drawn(postgres_url) == 2 * 3 * TRANSACTIONS
    checks = bench_booking.double_bookings(postgres_url)
    assert checks["slots held twice"] == checks["people booked twice at once"] == 0


def test_the_check_sees_a_double_booking(postgres_url: str) -> None:
    """Written past the booking rules (the store alone), two overlapping bookings of one
    doctor and one slot held twice are what the benchmark's SQL checks count."""
    engine = make_engine(postgres_url)
    upgrade(engine)
    with engine.begin() as connection:
        connection.execute(text(f"TRUNCATE {TABLES} RESTART IDENTITY CASCADE"))
    zone = ZoneInfo("Europe/Paris")
    with transaction(session_factory(engine)) as session:
        for n, start in enumerate(("09:00", "09:10", "11:00")):
            body = {
                "resourceType": "Appointment",
                "status": "booked",
                "start": f"2027-01-04T{start}:00+01:00",
                "end": f"2027-01-04T{start[:3]}{int(start[3:]) + 20:02d}:00+01:00",
                "slot": [{"reference": "Slot/s1"}],
                "participant": [
                    {"actor": {"reference": "Practitioner/doc"}, "status": "accepted"},
                    {"actor": {"reference": f"Patient/p{n}"}, "status": "accepted"},
                ],
            }
            resources.save(session, body, zone, resource_id=f"a{n}")
    engine.dispose()
    found = bench_booking.double_bookings(postgres_url)
    assert found["people booked twice at once"] == 1  # 09:10 starts before 09:20
    assert found["slots held twice"] == 1
