"""Who sees what: the role matrix, the patient compartment, and the audit of every access."""

from __future__ import annotations

import asyncio
import time

import pytest
from api_server import Server
from fhir_samples import consent, network, organization, patient
from psycopg_pool import AsyncConnectionPool
from sqlalchemy import update

from maillage.care.principal import Principal, load_principal, load_principal_async
from maillage.store import audit
from maillage.store.audit import verify
from maillage.store.database import transaction
from maillage.store.models import User


@pytest.fixture
def net(server: Server, coordinator: dict[str, str]) -> Server:
    for body in network():
        server.put(body, coordinator)
    return server


def _status(server: Server, path: str, headers: dict[str, str]) -> int:
    return server.client.get(path, headers=headers).status_code


def _found(server: Server, query: str, headers: dict[str, str]) -> list[str]:
    bundle = server.client.get(f"/fhir/{query}", headers=headers).json()
    return sorted(entry["resource"]["id"] for entry in bundle["entry"])


def _audit(server: Server, query: str) -> list[dict]:
    bundle = server.client.get(f"/fhir/AuditEvent?{query}", headers=server.headers("admin"))
    assert bundle.status_code == 200
    return [entry["resource"] for entry in bundle.json()["entry"]]


def test_anonymous_gets_401_and_is_audited(net: Server) -> None:
    assert _status(net, "/fhir/Patient/patient-1", {}) == 401
    assert _status(net, "/fhir/Organization/msp-1", {}) == 401
    events = _audit(net, "entity=Patient/patient-1&outcome=8")
    assert events[0]["agent"][0]["who"]["display"] == "anonymous"
    forged = {"Authorization": "Bearer eyJhbGciOiJub25lIn0.e30."}
    response = net.client.get("/fhir/Patient/patient-2", headers=forged)
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    events = _audit(net, "entity=Patient/patient-2&outcome=8")
    assert events[0]["outcomeDesc"].startswith("401 invalid token")


def test_planner_never_sees_patient_data(net: Server) -> None:
    planner = net.headers("planner")
    assert _status(net, "/fhir/Organization/msp-1", planner) == 200
    assert _status(net, "/fhir/Location?address-city=verdun", planner) == 200
    for path in (
        "/fhir/Patient/patient-1",
        "/fhir/Patient",
        "/fhir/Appointment?practitioner=doctor",
        "/fhir/Encounter/encounter-2",
        "/fhir/DocumentReference/report-2",
        "/fhir/Consent/consent-2",
        "/fhir/AuditEvent",
    ):
        assert _status(net, path, planner) == 403, path
    response = net.client.put(
        "/fhir/Organization/msp-1", json=organization("msp-1"), headers=planner
    )
    assert response.status_code == 403


def test_patient_sees_only_their_own_record(net: Server) -> None:
    me = net.headers("patient", patient="Patient/patient-2")
    assert _status(net, "/fhir/Patient/patient-2", me) == 200
    assert _status(net, "/fhir/Encounter/encounter-2", me) == 200
    assert _status(net, "/fhir/Patient/patient-1", me) == 403
    assert _found(net, "Patient", me) == ["patient-2"]
    assert _found(net, "Appointment", me) == ["visit-2"]
    own = net.client.put("/fhir/Consent/mine", json=consent("mine", "patient-2"), headers=me)
    assert own.status_code == 201
    other = net.client.put("/fhir/Consent/theirs", json=consent("theirs", "patient-1"), headers=me)
    assert other.status_code == 403
    assert _status(net, "/fhir/AuditEvent", me) == 403


def test_site_professional_sees_their_site_patients(net: Server) -> None:
    nurse = net.headers("site-professional", site="Location/site-1")
    assert _status(net, "/fhir/Patient/patient-1", nurse) == 200
    assert _status(net, "/fhir/Patient/patient-2", nurse) == 403
    assert _status(net, "/fhir/Consent/consent-2", nurse) == 403
    assert _found(net, "Patient", nurse) == ["patient-1"]
    here = net.client.put("/fhir/Patient/new-1", json=patient("new-1", "msp-1"), headers=nurse)
    assert here.status_code == 201
    elsewhere = net.client.put("/fhir/Patient/new-2", json=patient("new-2", "msp-2"), headers=nurse)
    assert elsewhere.status_code == 403
    moved = patient("patient-2", "msp-1")
    assert net.client.put("/fhir/Patient/patient-2", json=moved, headers=nurse).status_code == 403


def test_practitioner_sees_patients_they_care_for(net: Server) -> None:
    doctor = net.headers("practitioner", practitioner="Practitioner/doctor")
    assert _status(net, "/fhir/Patient/patient-2", doctor) == 200
    assert _status(net, "/fhir/DocumentReference/report-2", doctor) == 200
    assert _status(net, "/fhir/Patient/patient-1", doctor) == 403
    assert _found(net, "Patient", doctor) == ["patient-2"]
    assert _found(net, "Encounter", doctor) == ["encounter-2"]
    events = _audit(net, "agent=Practitioner/doctor&entity=Patient/patient-2&outcome=0")
    assert {e["subtype"][0]["code"] for e in events} >= {"read", "search-type"}
    refused = _audit(net, "agent=Practitioner/doctor&entity=Patient/patient-1")
    assert [e["outcome"] for e in refused] == ["8"]


def test_registry_writes_are_for_coordinators(net: Server) -> None:
    for role, links in (
        ("practitioner", {"practitioner": "Practitioner/doctor"}),
        ("site-professional", {"site": "Location/site-1"}),
        ("patient", {"patient": "Patient/patient-1"}),
    ):
        headers = net.headers(role, **links)
        response = net.client.put("/fhir/Organization/x", json=organization("x"), headers=headers)
        assert response.status_code == 403, role
    admin = net.headers("admin")
    assert net.client.put("/fhir/Organization/x", json=organization("x"), headers=admin).is_success


def test_every_patient_access_is_audited_in_an_intact_chain(net: Server) -> None:
    sessions, zone = net.app.state.sessions, net.settings.zone
    audit.drain(sessions, zone)
    with transaction(sessions) as session:
        before = verify(session).checked
    coordinator = net.headers("coordinator")
    net.client.get("/fhir/Patient/patient-1", headers=coordinator)
    net.client.get("/fhir/Patient/none", headers=coordinator)
    net.client.get("/fhir/Organization/msp-1", headers=coordinator)
    assert audit.drain(sessions, zone) == 2  # queued by the requests, chained now
    with transaction(sessions) as session:
        report = verify(session)
    assert report.intact, report.problems
    assert report.checked == before + 2
    found = _audit(net, "entity=Patient/none")
    assert found[0]["outcome"] == "4"
    assert found[0]["outcomeDesc"].startswith("404")
    # A write whose body is not even JSON is refused and audited too.
    garbled = {**coordinator, "Content-Type": "application/fhir+json"}
    put = net.client.put("/fhir/Patient/patient-1", content=b"{not json", headers=garbled)
    assert put.status_code == 400
    refused = _audit(net, "entity=Patient/patient-1&subtype=update&outcome=4")
    assert [e["outcomeDesc"][:30] for e in refused] == ["400 body is not valid JSON: Ex"]


def test_a_deactivated_account_is_refused_once_its_reading_is_stale(server: Server) -> None:
    coordinator = server.headers("coordinator")
    assert _status(server, "/fhir/Organization", coordinator) == 200
    with transaction(server.app.state.sessions) as session:
        session.execute(update(User).values(active=False))
    # Read 0 s ago: the server still trusts it (MAILLAGE_PRINCIPAL_CACHE_SECONDS, 2 s) …
    assert _status(server, "/fhir/Organization", coordinator) == 200
    server.app.state.principals.seconds = 0.05
    time.sleep(0.06)
    # … and no longer once the reading is older: the account is read again, and refused.
    response = server.client.get("/fhir/Organization", headers=coordinator)
    assert response.status_code == 401
    assert "no longer active" in response.json()["issue"][0]["diagnostics"]
    server.app.state.principals.seconds = 0  # 0: read on every request
    with transaction(server.app.state.sessions) as session:
        session.execute(update(User).values(active=True))
    assert _status(server, "/fhir/Organization", coordinator) == 200


@pytest.mark.postgres
@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_the_asynchronous_pool_reads_the_principal_the_store_reads(net: Server) -> None:
    """On PostgreSQL the server reads an account again on its asynchronous pool, from the
    event loop: the same principal as the store's own read (a site professional's site gives its
    organisation), None for an account deactivated or unknown."""
    net.headers("site-professional", site="Location/site-2")
    net.headers("patient", patient="Patient/patient-2")
    with transaction(net.app.state.sessions) as session:
        session.add(
            User(email="gone@example.org", password_hash="x", role="practitioner", active=False)
        )
    with transaction(net.app.state.sessions) as session:
        ids = [user.id for user in session.query(User).order_by(User.id)]
    engine = net.app.state.engine
    url = engine.url.set(drivername="postgresql").render_as_string(hide_password=False)

    async def read(user_ids: list[int]) -> list[Principal | None]:
        async with AsyncConnectionPool(url, open=False) as pool:
            return [await load_principal_async(pool, user_id) for user_id in user_ids]

    found = asyncio.run(read([*ids, max(ids) + 1]))
    assert found == [load_principal(engine, user_id) for user_id in [*ids, max(ids) + 1]]
    professional = next(p for p in found if p is not None and p.site == "Location/site-2")
    assert professional.organization == "Organization/msp-2"
    assert found[-2:] == [None, None]
