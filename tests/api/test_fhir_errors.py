"""Every error class answers an OperationOutcome with its 4xx status, never a stack trace."""

from __future__ import annotations

import logging
import time

import httpx
import pytest
from api_server import PASSWORD, Server
from fastapi.testclient import TestClient
from fhir_samples import appointment, organization, patient, slot
from sqlalchemy import text

from maillage.config import Settings
from maillage.server import create_app
from maillage.store.database import make_engine, transaction
from maillage.store.users import create_user


def _outcome(response: httpx.Response, status: int) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/fhir+json")
    body = response.json()
    assert body["resourceType"] == "OperationOutcome"
    assert body["issue"][0]["severity"] == "error"
    assert "Traceback" not in response.text
    return body


def test_client_errors(server: Server, coordinator: dict[str, str]) -> None:
    client = server.client
    server.put(organization("msp-1"), coordinator)
    fhir_json = {**coordinator, "Content-Type": "application/fhir+json"}
    _outcome(client.post("/fhir/Patient", content=b"{not json", headers=fhir_json), 400)
    other = _outcome(
        client.post("/fhir/Patient", json={"resourceType": "Slot"}, headers=coordinator), 400
    )
    assert other["issue"][0]["diagnostics"] == "expected a resource of type Patient"
    untyped = _outcome(client.post("/fhir/Appointment", json={}, headers=coordinator), 400)
    assert untyped["issue"][0]["diagnostics"] == "expected a resource of type Appointment"
    invalid = {"resourceType": "Patient", "birthDate": "2 March 1948"}
    body = _outcome(client.post("/fhir/Patient", json=invalid, headers=coordinator), 400)
    assert "birthDate" in body["issue"][0]["expression"][0]
    unknown = {"resourceType": "Patient", "shoeSize": 44}
    _outcome(client.post("/fhir/Patient", json=unknown, headers=coordinator), 400)
    mismatch = organization("other")
    _outcome(client.put("/fhir/Organization/msp-1", json=mismatch, headers=coordinator), 400)
    _outcome(client.get("/fhir/Patient"), 401)
    _outcome(client.get("/fhir/Patient", headers={"Authorization": "Bearer forged"}), 401)
    planner = server.headers("planner")
    _outcome(client.get("/fhir/Patient", headers=planner), 403)
    _outcome(client.get("/fhir/Organization/none", headers=coordinator), 404)
    _outcome(client.get("/fhir/Medication/x", headers=coordinator), 404)
    _outcome(client.get("/nowhere", headers=coordinator), 404)
    _outcome(client.patch("/fhir/Organization/msp-1", headers=coordinator), 405)
    _outcome(client.post("/fhir/AuditEvent", json={}, headers=coordinator), 405)
    xml = {**coordinator, "Content-Type": "application/fhir+xml"}
    _outcome(client.post("/fhir/Patient", content=b"<Patient/>", headers=xml), 415)
    # Asking for XML is refused (406), never answered with JSON; JSON or anything is served.
    _outcome(client.get("/fhir/metadata?_format=xml"), 406)
    wants_xml = {**coordinator, "Accept": "application/fhir+xml"}
    _outcome(client.get("/fhir/Organization", headers=wants_xml), 406)
    _outcome(client.post("/fhir/Schedule/x/$generate-slots", json={}, headers=wants_xml), 406)
    calendar = {**coordinator, "Accept": "text/calendar"}  # $ics answers iCalendar, not FHIR
    assert client.get("/fhir/Appointment/x/$ics", headers=calendar).status_code == 404
    _outcome(client.post("/fhir", json={}, headers=wants_xml), 406)
    assert client.get("/fhir/metadata?_format=json").status_code == 200
    browser = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
    assert client.get("/fhir/metadata", headers={"Accept": browser}).status_code == 200
    fhir_json = {**coordinator, "Accept": "application/fhir+json"}
    assert client.get("/fhir/Organization", headers=fhir_json).status_code == 200
    _outcome(client.get("/fhir/Organization/msp-1/_history/one", headers=coordinator), 422)
    huge = "/fhir/Organization/msp-1/_history/99999999999"  # beyond SQLite's and PG's integers
    _outcome(client.get(huge, headers=coordinator), 422)
    bad_version = {**coordinator, "If-Match": 'W/"one"'}
    _outcome(
        client.put("/fhir/Organization/msp-1", json=organization("msp-1"), headers=bad_version), 400
    )


def test_hostile_input_is_refused_not_a_500(server: Server, coordinator: dict[str, str]) -> None:
    """Input that once reached the database or the recursive validators as a 500: NUL
    characters (which PostgreSQL refuses), deep nesting, overlong ids, impossible times."""
    client = server.client
    server.put(organization("msp-1"), coordinator)
    fhir_json = {**coordinator, "Content-Type": "application/fhir+json"}
    deep = b'{"resourceType": "Patient", "extension": ' + b"[" * 5000 + b"]" * 5000 + b"}"
    _outcome(client.post("/fhir/Patient", content=deep, headers=fhir_json), 400)
    nested: dict = {"url": "urn:x", "valueString": "x"}
    for _level in range(150):
        nested = {"url": "urn:x", "extension": [nested]}
    too_deep = {"resourceType": "Patient", "extension": [nested]}
    _outcome(client.post("/fhir/Patient", json=too_deep, headers=coordinator), 400)
    nul = patient("p-nul", "msp-1", family="Du\x00pont")
    _outcome(client.put("/fhir/Patient/p-nul", json=nul, headers=coordinator), 400)
    for path in ("/fhir/Patient/a%00b", "/fhir/Patient?name=a%00b", "/fhir/Patient?_id=%00"):
        _outcome(client.get(path, headers=coordinator), 400)
    login = {"username": "a\x00b@example.org", "password": "guess"}
    _outcome(client.post("/auth/token", data=login), 401)
    long_id = "a" * 65
    _outcome(
        client.put(
            f"/fhir/Organization/{long_id}", json=organization(long_id), headers=coordinator
        ),
        400,
    )
    reversed_slot = slot("s", "sched", "2026-03-02T10:00:00Z", "2026-03-02T09:00:00Z")
    body = _outcome(client.put("/fhir/Slot/s", json=reversed_slot, headers=coordinator), 400)
    assert body["issue"][0]["code"] == "invariant"
    undated = appointment("a", "p", "doctor", "site-1", "2026-03-02T10:00:00+01:00")
    undated |= {"status": "booked", "slot": [{"reference": "Slot/s"}]}
    del undated["start"], undated["end"]
    body = _outcome(client.put("/fhir/Appointment/a", json=undated, headers=coordinator), 400)
    assert "app-3" in body["issue"][0]["diagnostics"]


def test_nul_in_conditional_criteria_is_400(server: Server, coordinator: dict[str, str]) -> None:
    """What passes neither through the URL nor the JSON checks (here a conditional create's
    criteria) is still refused before the database, which would choke on it (PostgreSQL
    refuses a NUL)."""
    client = server.client
    conditional = {**coordinator, "If-None-Exist": "name=a%00b"}
    created = client.post("/fhir/Organization", json=organization("x"), headers=conditional)
    _outcome(created, 400)
    assert "NUL" in created.json()["issue"][0]["diagnostics"]


def test_extreme_dates_are_stored_and_searched(server: Server, coordinator: dict[str, str]) -> None:
    """Year 1 and year 9999 are valid FHIR dates: stored, indexed and searched like others."""
    server.put(organization("msp-1"), coordinator)
    for pid, born in (("first", "0001-01-01"), ("last", "9999-12-31")):
        server.put(patient(pid, "msp-1") | {"birthDate": born}, coordinator)
    for query, expected in (
        ("birthdate=0001-01-01", ["first"]),
        ("birthdate=9999", ["last"]),
        ("birthdate=gt9999-12-31", []),
        ("birthdate=lt0001-01-02", ["first"]),
    ):
        response = server.client.get(f"/fhir/Patient?{query}", headers=coordinator)
        assert response.status_code == 200, (query, response.text)
        assert [e["resource"]["id"] for e in response.json()["entry"]] == expected, query
    late = slot("leap", "sched", "2016-12-31T23:59:60Z", "2017-01-01T00:20:00Z")
    server.put(late, coordinator)
    found = server.client.get("/fhir/Slot?start=2016-12-31T23:59:59Z", headers=coordinator)
    assert [e["resource"]["id"] for e in found.json()["entry"]] == ["leap"]
    visit = appointment("leap", "p", "doctor", "site-1", "2016-12-31T23:59:60Z")
    server.put(visit | {"end": "2017-01-01T00:20:00Z"}, coordinator)
    invitation = server.client.get("/fhir/Appointment/leap/$ics", headers=coordinator)
    assert invitation.status_code == 200, invitation.text


def test_body_size_limit(database_url: str) -> None:
    settings = Settings(database_url=database_url, secret_key="s" * 40, max_request_bytes=2048)
    app = create_app(settings)
    with TestClient(app) as client:
        headers = Server(app, client, settings).headers("coordinator")
        big = patient("p", "msp-1", family="x" * 4096)
        _outcome(client.post("/fhir/Patient", json=big), 413)

        def chunks():
            yield b'{"resourceType": "Patient", "name": [{"family": "'
            yield b"x" * 4096
            yield b'"}]}'

        chunked = client.post(
            "/fhir/Patient",
            content=chunks(),
            headers={**headers, "Content-Type": "application/fhir+json"},
        )
        _outcome(chunked, 413)
    app.state.engine.dispose()


def test_login_rate_limit(database_url: str) -> None:
    settings = Settings(database_url=database_url, secret_key="s" * 40, login_rate_limit="3/minute")
    app = create_app(settings)
    with transaction(app.state.sessions) as session:
        create_user(session, "nurse@example.org", PASSWORD, "coordinator")
    with TestClient(app) as client:
        wrong = {"username": "nurse@example.org", "password": "guess"}
        for _attempt in range(3):
            _outcome(client.post("/auth/token", data=wrong), 401)
        _outcome(client.post("/auth/token", data=wrong), 429)
        right = {"username": "nurse@example.org", "password": PASSWORD}
        _outcome(client.post("/auth/token", data=right), 429)
    app.state.engine.dispose()


def test_unexpected_errors_are_a_bare_500(server: Server) -> None:
    def broken() -> None:
        raise RuntimeError("secret internals")

    server.app.add_api_route("/boom", broken)
    client = TestClient(server.app, raise_server_exceptions=False)
    response = client.get("/boom")
    _outcome(response, 500)
    assert "secret internals" not in response.text


@pytest.mark.postgres
@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_a_lost_database_connection_is_503_then_replaced(
    server: Server, coordinator: dict[str, str], database_url: str
) -> None:
    """A pooled connection the server killed meanwhile: 503 (send again), not 500; the retry
    gets a fresh connection."""
    engine = server.app.state.engine
    engine.dispose()  # one pooled connection, the one killed below
    with engine.connect() as connection:
        pid = connection.execute(text("SELECT pg_backend_pid()")).scalar_one()
    with make_engine(database_url).connect() as killer:
        killer.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
    lost = server.client.get("/fhir/Organization", headers=coordinator)
    _outcome(lost, 503)
    assert lost.headers["retry-after"] == "1"
    assert server.client.get("/fhir/Organization", headers=coordinator).status_code == 200


@pytest.mark.postgres
@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_a_slot_search_on_a_lost_connection_is_503_then_answered(
    server: Server, coordinator: dict[str, str], database_url: str
) -> None:
    """The same on the event loop's asynchronous pool (free-slot searches): however many
    connections the pool held, all died with the server's restart, and one 503 is enough."""
    search = "/fhir/Slot?schedule=Schedule/s1&status=free"
    assert server.client.get(search, headers=coordinator).status_code == 200
    reads = server.app.state.reads
    server.client.portal.call(reads.resize, 3, reads.max_size)
    deadline = time.monotonic() + 5
    while server.client.portal.call(reads.get_stats)["pool_available"] < 3:
        assert time.monotonic() < deadline, "the pool did not grow to three connections"
        time.sleep(0.01)
    with make_engine(database_url).connect() as killer:  # every other backend, pools' too
        killer.execute(
            text(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        )
    # Until its listening connection is found lost too, the process may still serve the answer
    # it kept (no older than any kept answer); once found lost, it keeps none.
    answers = server.app.state.slot_answers
    deadline = time.monotonic() + 5
    while answers.listening and time.monotonic() < deadline:
        time.sleep(0.01)
    assert not answers.listening
    lost = server.client.get(search, headers=coordinator)
    _outcome(lost, 503)
    assert lost.headers["retry-after"] == "1"
    found = server.client.get(search, headers=coordinator)
    assert found.status_code == 200 and found.json()["entry"] == []


def test_a_client_gone_before_its_body_ends_is_no_server_error(
    server: Server, coordinator: dict[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    """A client that leaves halfway through its body (a tablet's network lost mid-upload):
    nothing written, and no 500 nor stack trace in the server's log."""
    headers = {**coordinator, "Content-Type": "application/fhir+json", "Content-Length": "400"}
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/fhir/Patient",
        "raw_path": b"/fhir/Patient",
        "query_string": b"",
        "root_path": "",
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
    }
    pending = [{"type": "http.request", "body": b'{"resourceType": "Pat', "more_body": True}]
    sent: list[dict] = []

    async def receive() -> dict:
        return pending.pop(0) if pending else {"type": "http.disconnect"}

    async def send(message: dict) -> None:
        sent.append(message)

    with caplog.at_level(logging.INFO):
        server.client.portal.call(server.app, scope, receive, send)
    assert sent[0]["status"] == 400
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == []
    assert "client left before the end of its request" in caplog.text
    found = server.client.get("/fhir/Patient", params={"_total": "accurate"}, headers=coordinator)
    assert found.json()["total"] == 0
