"""Roadmap projects as plain JSON, with the same authentication and roles."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from api_server import Server

PROJECT: dict[str, Any] = {
    "name": "Cabine de téléconsultation, MSP de Stenay",
    "kind": "site",
    "location": "Location/site-1",
    "stages": [
        {"stage": "identified", "date": "2025-09-01"},
        {"stage": "accompanied", "date": "2025-10-15"},
        {"stage": "funded", "date": "2026-01-10"},
    ],
    "funding": [{"amount_euros": 45000.5, "funder": "ARS Grand Est", "granted": "2026-01-10"}],
    "trained": [{"name": "Inès Roux", "role": "IDE", "trained": "2026-02-01"}],
}


def test_project_life(server: Server, coordinator: dict[str, str]) -> None:
    client = server.client
    created = client.post("/api/projects", json=PROJECT, headers=coordinator)
    assert created.status_code == 201, created.text
    project = created.json()
    assert project["stage"] == "funded"
    assert project["funding"][0]["amount_euros"] == 45000.5
    later = {**PROJECT, "stages": [*PROJECT["stages"], {"stage": "equipped", "date": "2026-03-01"}]}
    updated = client.put(f"/api/projects/{project['id']}", json=later, headers=coordinator)
    assert updated.json()["stage"] == "equipped"
    assert updated.json()["version"] == 2
    nurse = server.headers("site-professional", site="Location/site-1")
    request = {"opened": "2026-03-05", "subject": "La caméra ne s'allume plus"}
    opened = client.post(
        f"/api/projects/{project['id']}/support-requests", json=request, headers=nurse
    )
    assert opened.status_code == 201
    assert opened.json()["support_requests"][0]["status"] == "open"
    other_site = server.headers("site-professional", site="Location/site-2")
    refused = client.post(
        f"/api/projects/{project['id']}/support-requests", json=request, headers=other_site
    )
    assert refused.status_code == 403
    planner = server.headers("planner")
    listed = client.get("/api/projects?stage=equipped", headers=planner).json()
    assert [p["id"] for p in listed] == [project["id"]]
    assert client.get("/api/projects?stage=operating", headers=planner).json() == []


def test_project_rules(server: Server, coordinator: dict[str, str]) -> None:
    client = server.client
    backwards = {**PROJECT, "stages": list(reversed(PROJECT["stages"]))}
    response = client.post("/api/projects", json=backwards, headers=coordinator)
    assert response.status_code == 422
    assert response.json()["resourceType"] == "OperationOutcome"
    assert client.get("/api/projects").status_code == 401
    patient = server.headers("patient", patient="Patient/p")
    assert client.get("/api/projects", headers=patient).status_code == 403
    planner = server.headers("planner")
    assert client.post("/api/projects", json=PROJECT, headers=planner).status_code == 403
    assert client.get("/api/projects/none", headers=planner).status_code == 404


def test_last_updated_is_an_instant_with_its_offset(
    server: Server, coordinator: dict[str, str]
) -> None:
    created = server.client.post("/api/projects", json=PROJECT, headers=coordinator).json()
    read = server.client.get(f"/api/projects/{created['id']}", headers=coordinator).json()
    for project in (created, read):
        assert datetime.fromisoformat(project["last_updated"]).utcoffset() == timedelta(0)
