"""Care-role searches, reads and writes are driven by indexes: no plan scans the whole
search index.

Each search, read or write runs for real through the repository; every statement it sends that
touches the search index is then EXPLAINed on PostgreSQL with sequential scans disabled, so a
Seq Scan left in a plan means no index can answer it, and an index scan whose condition leaves
the index's first column free reads the whole index (the table at one remove). A scan that
grows with the whole network's data (a site professional's ``Observation?_count=10`` once
took 12–21 s against 0.15 s for an admin) fails the test.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from fhir_samples import appointment, communication, network, observation, patient
from sqlalchemy import Engine, event

from maillage.care.principal import Principal, Role
from maillage.care.repository import Repository
from maillage.config import Settings
from maillage.store.database import make_engine, session_factory, upgrade

pytestmark = pytest.mark.postgres
Body = dict[str, Any]
INDEX_TABLE = "fhir_search"
NURSE = Principal(
    11,
    "ide@example.org",
    Role.SITE_PROFESSIONAL,
    site="Location/site-2",
    organization="Organization/msp-2",
)
DOCTOR = Principal(12, "dr@example.org", Role.PRACTITIONER, practitioner="Practitioner/doctor")
PATIENT = Principal(13, "p2@example.org", Role.PATIENT, patient="Patient/patient-2")
SEARCHES: list[tuple[str, list[tuple[str, str]]]] = [
    ("Observation", [("_count", "10")]),
    ("Observation", [("code", "http://loinc.org|29463-7"), ("_sort", "-date")]),
    ("Observation", [("patient", "Patient/patient-2"), ("_count", "10")]),
    ("Appointment", [("date", "ge2026-01-01")]),
    ("Patient", [("family", "lef")]),
    ("Encounter", [("_count", "10")]),
    ("Communication", [("_count", "10")]),
    ("CarePlan", [("patient", "patient-2")]),
    ("Task", [("status", "requested")]),
    # the care pages' searches: the site's bookings, its patients, a doctor's day
    ("Appointment", [("location", "Location/site-2"), ("date", "ge2026-01-01")]),
    ("Patient", [("name", "lef"), ("_sort", "birthdate"), ("_count", "20")]),
    ("Encounter", [("patient", "Patient/patient-2,Patient/other-1"), ("class", "AMB")]),
    ("Task", [("owner", "Practitioner/doctor"), ("patient", "Patient/patient-2")]),
]
READS = [("Patient", "patient-2"), ("Observation", "weight-2"), ("Communication", "note-2")]


@pytest.fixture
def engine(database_url: str, tmp_path: Path) -> Iterator[tuple[Engine, Settings]]:
    """The sample network and a few more patients at the other site, on PostgreSQL."""
    settings = Settings(database_url=database_url, secret_key="s" * 48, files_dir=tmp_path)
    engine = make_engine(settings.sqlalchemy_url)
    upgrade(engine)
    coordinator = Repository(
        session_factory(engine), settings, Principal(1, "c@example.org", Role.COORDINATOR)
    )
    bodies = network()
    for n in range(6):
        bodies += [
            patient(f"other-{n}", "msp-1"),
            appointment(f"visit-o{n}", f"other-{n}", "doctor", "site-1", "2026-03-03T10:00:00Z"),
            observation(f"weight-o{n}", f"other-{n}"),
            communication(f"note-o{n}", f"other-{n}", "Practitioner/doctor"),
        ]
    for body in bodies:
        coordinator.update(body["resourceType"], body["id"], body)
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.exec_driver_sql("ANALYZE")
    yield engine, settings
    engine.dispose()


@contextmanager
def _sent(engine: Engine) -> Iterator[list[tuple[str, Any]]]:
    """The SELECTs on the search index sent on ``engine`` while the block runs."""
    sent: list[tuple[str, Any]] = []

    def record(_c: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        if statement.lstrip().upper().startswith(("SELECT", "WITH")) and INDEX_TABLE in statement:
            sent.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield sent
    finally:
        event.remove(engine, "before_cursor_execute", record)


def _nodes(plan: Body) -> Iterator[Body]:
    yield plan
    for child in plan.get("Plans", []):
        yield from _nodes(child)


def _leading_columns(engine: Engine) -> dict[str, str]:
    """The first column of each index of the search index table, by index name."""
    query = (
        "SELECT i.relname, a.attname FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid"
        " JOIN pg_attribute a ON a.attrelid = x.indrelid AND a.attnum = x.indkey[0]"
        f" WHERE x.indrelid = '{INDEX_TABLE}'::regclass"
    )
    with engine.connect() as connection:
        return {str(index): str(column) for index, column in connection.exec_driver_sql(query)}


def _whole_index_scans(engine: Engine, statement: str, parameters: Any) -> list[str]:
    """The plan's nodes that read the search index whole (none is the goal): a Seq Scan, or
    an index scan whose condition leaves the index's first column free (PostgreSQL then reads
    every entry of the index, checking the condition on each)."""
    leading = _leading_columns(engine)
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        cursor.execute("SET enable_seqscan = off")
        cursor.execute(f"EXPLAIN (FORMAT JSON) {statement}", parameters)
        plan = cursor.fetchone()[0]
        cursor.execute("RESET enable_seqscan")
    finally:
        raw.close()
    plan = json.loads(plan) if isinstance(plan, str) else plan
    whole = []
    for node in _nodes(plan[0]["Plan"]):
        index = node.get("Index Name")
        if node["Node Type"] == "Seq Scan" and node.get("Relation Name") == INDEX_TABLE:
            whole.append("Seq Scan")
        elif index in leading and not re.search(
            rf"(?<![.\w]){leading[index]}\b", node.get("Index Cond", "")
        ):
            whole.append(f"{node['Node Type']} {index}: {node.get('Index Cond')}")
    return whole


def _explained(engine: Engine, work: Callable[[], object]) -> dict[str, list[str]]:
    """Each index statement ``work`` sends, with the whole-index scans of its plan."""
    with _sent(engine) as sent:
        work()
    assert sent, "the work sent no statement on the search index"
    return {statement: _whole_index_scans(engine, statement, p) for statement, p in sent}


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
@pytest.mark.parametrize("principal", [NURSE, DOCTOR, PATIENT], ids=lambda p: p.role.value)
def test_care_role_searches_reads_and_writes_use_index_driven_plans(
    engine: tuple[Engine, Settings], principal: Principal
) -> None:
    db, settings = engine
    repository = Repository(session_factory(db), settings, principal)
    page = repository.search("Observation", [("_count", "10")])
    assert page.total > 0, "the principal must see some of the data it is tested on"
    scans: dict[str, list[str]] = {}
    for resource_type, params in SEARCHES:
        found = _explained(db, lambda t=resource_type, p=params: repository.search(t, p))
        scans |= {f"{resource_type}?{params}: {s[:200]}": w for s, w in found.items() if w}
    if principal.role is not Role.PATIENT:
        for resource_type, resource_id in READS:
            found = _explained(db, lambda t=resource_type, i=resource_id: repository.read(t, i))
            scans |= {f"{resource_type}/{resource_id}: {s[:200]}": w for s, w in found.items() if w}
        for body in _writes(principal):
            kind, rid = body["resourceType"], body["id"]
            found = _explained(db, lambda k=kind, i=rid, b=body: repository.update(k, i, b))
            scans |= {f"PUT {kind}/{rid}: {s[:200]}": w for s, w in found.items() if w}
    assert scans == {}


def _writes(principal: Principal) -> list[Body]:
    """A measurement of a patient the principal cares for, and a new patient of theirs (its
    id looked up among the ids records name)."""
    role = principal.role.value
    registered = {
        **patient(f"new-{role}", "msp-2"),
        "generalPractitioner": [{"reference": "Practitioner/doctor"}],
    }
    return [observation(f"weight-by-{role}", "patient-2"), registered]


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_the_check_sees_a_whole_index_scan(engine: tuple[Engine, Settings]) -> None:
    """A lookup by value alone (no resource type) can only read the whole index."""
    db, _ = engine
    lookup = "SELECT resource_id FROM fhir_search WHERE value = %(value)s"
    assert _whole_index_scans(db, lookup, {"value": "Patient/patient-2"})
