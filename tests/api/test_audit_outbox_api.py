"""Through the API, an audited request queues its AuditEvent; whoever reads the trail (the
FHIR AuditEvent search and read) sees it at once, and the monitoring route shows the
chainer's lag to admins only."""

from __future__ import annotations

from api_server import Server


def _backlog(server: Server, headers: dict[str, str]) -> dict:
    response = server.client.get("/api/monitoring/audit-outbox", headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


def test_a_read_is_queued_then_seen_by_the_next_reader_of_the_trail(
    net: Server, coordinator: dict[str, str], admin: dict[str, str]
) -> None:
    server = net
    assert server.client.get("/fhir/Patient/patient-1", headers=coordinator).status_code == 200
    assert _backlog(server, admin)["pending"] >= 1  # queued, not chained yet
    found = server.client.get(
        "/fhir/AuditEvent?entity=Patient/patient-1&subtype=read", headers=admin
    ).json()
    [event] = [entry["resource"] for entry in found["entry"]]
    assert event["outcome"] == "0"
    assert _backlog(server, admin) == {"pending": 0, "oldestAgeSeconds": 0.0}
    read = server.client.get(f"/fhir/AuditEvent/{event['id']}", headers=admin)
    assert read.status_code == 200
    assert read.json()["entity"] == [{"what": {"reference": "Patient/patient-1"}}]


def test_the_lag_is_for_those_who_read_the_trail(server: Server) -> None:
    for role in ("coordinator", "practitioner", "planner"):
        response = server.client.get("/api/monitoring/audit-outbox", headers=server.headers(role))
        assert response.status_code == 403, role
    assert server.client.get("/api/monitoring/audit-outbox").status_code == 401
    assert _backlog(server, server.headers("dpo"))["pending"] >= 0
