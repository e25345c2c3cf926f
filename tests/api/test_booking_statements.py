"""A booking's cost in SQL statements and repository calls: neither may grow.

The ceilings were measured on the code before the repository existed (commit 2c4ba08, the
booking written by ``api.fhir.store``) by running this module's statement count there: one
POST /fhir/Appointment taking a free slot, the principal already cached, counted with
SQLAlchemy's ``before_cursor_execute`` on the app's engine.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from api_server import SECRET, Server
from fastapi.testclient import TestClient
from fhir_samples import appointment, network, slot
from sqlalchemy import event

from maillage.care.repository import Repository, Work
from maillage.config import Settings
from maillage.jobs.queue import JobSettings, job_queue
from maillage.server import create_app
from maillage.store import booking_call

#: SQLAlchemy statements of one booking, per database: 19 and 10 before the repository (commit
#: 2c4ba08); its AuditEvent queued as one audit outbox row instead of stored and chained in
#: place; on PostgreSQL none since the booking is one call on the asynchronous pool (below).
CEILING = {"sqlite": 15, "postgresql": 0}
#: What a booking costs on PostgreSQL's asynchronous connection: the reads of its rules (the
#: participants with one hop further, each patient's consents) as one statement, then the one call
#: that writes: two round trips (four before the reads were folded into one statement).
ASYNC_CALLS = Counter({"pool.read": 1, "pool.book": 1, "pool.round trip": 2})


@pytest.fixture
def booking_server(database_url: str, tmp_path: Path) -> Iterator[Server]:
    """A server whose principals stay cached, so that only the booking's own SQL is counted."""
    settings = Settings(
        database_url=database_url,
        secret_key=SECRET,
        files_dir=tmp_path / "files",
        principal_cache_seconds=60,
    )
    app = create_app(settings)
    app.state.job_queue = job_queue(JobSettings(jobs_queue=f"maillage-test-{uuid.uuid4().hex}"))
    with TestClient(app) as client:
        yield Server(app, client, settings)
    app.state.engine.dispose()


def _booking(patient: str, slot_id: str, start: str) -> dict[str, Any]:
    body = appointment("x", patient, "doctor", "site-2", start)
    del body["id"]
    return {**body, "status": "booked", "slot": [{"reference": f"Slot/{slot_id}"}]}


def _count_one_booking(server: Server) -> tuple[int, Counter[str]]:
    """Statements and repository calls of one booking, after a first one warmed the caches."""
    coordinator = server.headers("coordinator")
    for body in network():
        server.put(body, coordinator)
    early = slot(
        "slot-0", "doctor-schedule", "2026-03-02T08:00:00+01:00", "2026-03-02T08:20:00+01:00"
    )
    server.put(early, coordinator)
    warm = _booking("patient-1", "slot-0", "2026-03-02T08:00:00+01:00")
    assert server.client.post("/fhir/Appointment", json=warm, headers=coordinator).is_success
    statements: list[str] = []
    calls: Counter[str] = Counter()

    def count(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        statements.append(statement)

    engine = server.app.state.engine
    event.listen(engine, "before_cursor_execute", count)
    originals = {
        name: getattr(Repository, name)
        for name in ("book", "create", "update", "read", "search", "transaction")
    } | {"store": Work.store}
    execute = booking_call.execute

    async def counted_execute(connection: Any, sql: str, params: dict[str, Any]) -> list:
        calls["pool.round trip"] += 1
        calls["pool.book" if sql == booking_call.BOOK else "pool.read"] += 1
        return await execute(connection, sql, params)

    def counted(name: str, original: Any) -> Any:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            calls[name] += 1
            return original(*args, **kwargs)

        return wrapper

    try:
        for name, original in originals.items():
            owner = Work if name == "store" else Repository
            setattr(owner, name, counted(name, original))
        booking_call.execute = counted_execute  # type: ignore[assignment]
        booked = server.client.post(
            "/fhir/Appointment",
            json=_booking("patient-2", "slot-1", "2026-03-02T09:00:00+01:00"),
            headers=coordinator,
        )
    finally:
        for name, original in originals.items():
            setattr(Work if name == "store" else Repository, name, original)
        booking_call.execute = execute  # type: ignore[assignment]
        event.remove(engine, "before_cursor_execute", count)
    assert booked.status_code == 201, booked.text
    return len(statements), calls


def test_a_booking_costs_no_more_statements_than_before(booking_server: Server) -> None:
    dialect = booking_server.app.state.engine.dialect.name
    statements, _calls = _count_one_booking(booking_server)
    assert statements <= CEILING[dialect], statements


def test_a_booking_is_one_repository_call_and_one_stored_write(booking_server: Server) -> None:
    """Before the repository, the route made one ``api.fhir.store`` call per booking; now the
    route calls the booking entry point once, which writes once: through the ordinary create
    on SQLite, as one database call (after the reads of its rules) on PostgreSQL."""
    _statements, calls = _count_one_booking(booking_server)
    if booking_server.app.state.engine.dialect.name == "postgresql":
        assert calls == Counter({"book": 1}) + ASYNC_CALLS
    else:
        assert calls == Counter({"book": 1, "create": 1, "store": 1})
