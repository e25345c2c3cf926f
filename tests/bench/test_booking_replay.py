"""The booking replay (bench/booking_replay.py) books for real: a ceiling measured on
transactions that roll back or fail would be no ceiling (an early draft of it replayed a
compare-and-set that never matched, and so measured rollbacks)."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import NoReturn

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from bench import bench_booking, booking_replay
from maillage.config import Settings
from maillage.store.database import make_engine, upgrade
from maillage.store.models import Base

pytestmark = [pytest.mark.postgres, pytest.mark.slow]
TABLES = ", ".join(table.name for table in Base.metadata.sorted_tables)
TRANSACTIONS = 10  # per client; 3 clients


def _counts(url: str) -> dict[str, int]:
    queries = {
        "appointments": "SELECT count(*) FROM fhir_resource WHERE resource_type = 'Appointment'",
        "events": "SELECT count(*) FROM fhir_resource WHERE resource_type = 'AuditEvent'",
        "links": "SELECT count(*) FROM audit_link",
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
    yield {"settings": settings, **bench_booking.seed(postgres_url, settings)}
    engine = make_engine(postgres_url)
    with engine.begin() as connection:
        connection.execute(text(f"DROP TABLE IF EXISTS {booking_replay.SLOTS}"))
    engine.dispose()


def test_each_replayed_transaction_is_a_committed_booking(
    postgres_url: str, seeded: dict, tmp_path: Path
) -> None:
    recorded = booking_replay.record(
        seeded["settings"], seeded["tokens"][0], "sched-3", "Practitioner/doc-3"
    )
    written = {p.get("resource_type") for s, p in recorded.statements if "fhir_resource" in s}
    assert {"Slot", "Appointment", "AuditEvent"} <= written
    slots = booking_replay.draw_from_slots(postgres_url)
    assert slots == seeded["slots"]
    as_sent = booking_replay.script(recorded, postgres_url, slots)
    batched = booking_replay.batched(as_sent)
    assert booking_replay.round_trips(batched) < booking_replay.round_trips(as_sent)
    for replay in (as_sent, batched):
        before = _counts(postgres_url)
        script = tmp_path / "replay.sql"
        script.write_text(replay, encoding="utf-8")
        _pgbench(postgres_url, script)
        grown = {k: v - before[k] for k, v in _counts(postgres_url).items()}
        booked = grown["appointments"]
        # 3 clients drawing among 12,000 slots: a lost race (rolled back) is all but impossible.
        assert booked >= 3 * TRANSACTIONS - 1
        # Each committed booking took one slot (its version bumped once), wrote its AuditEvent
        # with its chain link, and the two booked periods of patient and practitioner.
        assert grown["slot bumps"] == booked
        assert grown["events"] == grown["links"] == booked
        assert grown["periods"] == 2 * booked
        assert 0 < grown["busy in calendar"] <= booked
