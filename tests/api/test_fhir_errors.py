"""Every error class answers an OperationOutcome with its 4xx status, never a stack trace."""

from __future__ import annotations

import httpx
from api_server import PASSWORD, Server
from fastapi.testclient import TestClient
from fhir_samples import organization, patient

from maillage.api.app import create_app
from maillage.config import Settings
from maillage.store.database import transaction
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
    _outcome(client.post("/fhir/Patient", json={"resourceType": "Slot"}, headers=coordinator), 400)
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
    _outcome(client.get("/fhir/Organization/msp-1/_history/one", headers=coordinator), 422)


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
